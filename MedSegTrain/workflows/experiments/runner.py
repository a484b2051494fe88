"""Run an experiment's grid, resumably: train once per training arm/fold/seed, evaluate every trial.

Each trial's folder ``DIR/trials/<id>`` is written in a private folder and renamed into place
with its ``done`` marker inside, so a crash or SIGKILL leaves either a finished trial or
nothing; ``resume`` skips finished trials and reruns the rest. A trial that raises is recorded
as failed (its error in ``experiment.json``) and the others go on. Trials that differ only in
inference factors share one training in ``DIR/train/<train id>`` (same done-marker rule).

Executors: ``local`` runs ``workers`` training groups side by side in threads, with the CPU
cores split between them (``training.threads`` = cores // workers, and torch's thread count set
once to that); ``slurm`` submits one job per group through ``submitit`` (the ``cluster`` extra).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import atomic_output_dir, parse_json, read_config_text, write_json_atomic
from MedSegTrain.progress import Progress
from MedSegTrain.workflows.experiments import results
from MedSegTrain.workflows.experiments.grid import Trial, expand

DONE = "done"
EXECUTORS = ("local", "slurm")


def threads_per_trial(workers: int, cores: int | None = None) -> int:
    """CPU threads each of ``workers`` side-by-side trials may use without oversubscribing."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


def run_experiment(spec: Mapping[str, Any], data: Path, out_dir: Path, workers: int = 1,
                   executor: str = "local", resume: bool = False, device: str = "auto",
                   progress: Progress | None = None,
                   slurm: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run (or, with ``resume``, finish) every trial of ``spec`` on dataset ``data`` into ``out_dir``;
    returns the ``experiment.json`` record."""
    progress = progress or Progress("none")
    out_dir, data = Path(out_dir), Path(data)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise MedSegError(f"--workers must be a whole number >= 1, got {workers!r}")
    if executor not in EXECUTORS:
        raise MedSegError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if not data.exists():
        raise MedSegError(f"--data {data}: dataset not found")
    _check_out_dir(out_dir, spec, resume)
    trials = expand(spec)
    threads = threads_per_trial(workers)
    record: dict[str, Any] = {
        "spec": dict(spec), "code_version": results.code_version(), "packages": results.package_versions(),
        "hardware": results.hardware(threads, workers, device), "data": str(data.resolve()),
        "trials": [{**t.record(), "status": "pending", "seconds": None, "error": None} for t in trials],
    }
    by_id = {t["id"]: t for t in record["trials"]}
    for trial in trials:
        earlier = _finished(out_dir, trial)
        if earlier is not None:
            by_id[trial.id].update(status="done", seconds=earlier.get("seconds"))
    write_json_atomic(out_dir / "experiment.json", record)
    groups = _groups([t for t in trials if by_id[t.id]["status"] != "done"])
    progress.log(f"experiment {spec['name']}: {len(trials)} trials, {len(trials) - sum(map(len, groups))} "
                 f"already done; {len(groups)} training(s); {workers} worker(s) x {threads} thread(s)")
    progress.task("trials", len(trials))
    if len(trials) > sum(map(len, groups)):
        progress.advance(len(trials) - sum(map(len, groups)), message="done before")
    started, finished = time.monotonic(), [0]
    todo = sum(map(len, groups))

    def collect(outcomes: Sequence[Mapping[str, Any]]) -> None:
        for outcome in outcomes:
            by_id[outcome["id"]].update(status=outcome["status"], seconds=outcome["seconds"],
                                        error=outcome["error"])
        finished[0] += len(outcomes)
        write_json_atomic(out_dir / "experiment.json", record)
        eta = (time.monotonic() - started) / finished[0] * (todo - finished[0])
        failed = sum(t["status"] == "failed" for t in record["trials"])
        progress.advance(len(outcomes), message=f"{finished[0]}/{todo} trials run, {failed} failed, "
                                                f"ETA {eta:.0f} s", eta_s=round(eta, 1))

    args = (dict(spec), str(data), str(out_dir), threads, device)
    if executor == "local":
        _run_local(groups, args, workers, collect)
    else:
        _run_submitit(groups, args, collect, dict(slurm or {}))
    progress.close()
    _write_table(out_dir, spec, trials, by_id)
    write_json_atomic(out_dir / "experiment.json", record)
    return record


def _check_out_dir(out_dir: Path, spec: Mapping[str, Any], resume: bool) -> None:
    record = out_dir / "experiment.json"
    if record.is_file():
        if not resume:
            raise MedSegError(f"--out {out_dir}: an experiment was already run there; pass --resume to "
                              "finish it, or choose an empty --out")
        earlier = parse_json(read_config_text(record, "experiment record"), str(record))
        if earlier.get("spec") != _plain(spec):
            raise MedSegError(f"--out {out_dir}: the experiment there was run with another spec; "
                              "--resume needs the same spec (or choose an empty --out)")
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise MedSegError(f"--out {out_dir}: the folder is not empty and holds no experiment")


def _plain(obj: Any) -> Any:
    """``obj`` as its JSON round trip gives it back (for comparing with a stored spec)."""
    import json

    from MedSegTrain.fileutil import strict_json_value

    return json.loads(json.dumps(strict_json_value(obj)))


def _finished(out_dir: Path, trial: Trial) -> dict[str, Any] | None:
    folder = out_dir / "trials" / trial.id
    if not (folder / DONE).is_file():
        return None
    path = folder / "trial.json"
    return dict(parse_json(read_config_text(path, "trial record"), str(path)))


def _groups(trials: Sequence[Trial]) -> list[list[Trial]]:
    out: dict[str, list[Trial]] = {}
    for trial in trials:
        out.setdefault(trial.train_id, []).append(trial)
    return list(out.values())


def _run_local(groups: Sequence[Sequence[Trial]], args: tuple, workers: int,
               collect: Callable[[Sequence[Mapping[str, Any]]], None]) -> None:
    if not groups:
        return
    import torch

    torch.set_num_threads(args[3])  # process-wide: every worker thread shares this share of the cores
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures: list[Future] = [pool.submit(run_group, list(g), *args) for g in groups]
        for future in futures:
            collect(future.result())


def _run_submitit(groups: Sequence[Sequence[Trial]], args: tuple,
                  collect: Callable[[Sequence[Mapping[str, Any]]], None], slurm: dict[str, Any]) -> None:
    try:
        import submitit
    except ImportError:
        raise MedSegError("--executor slurm needs submitit: pip install 'MedSegTrain[cluster]'") from None
    folder = Path(args[2]) / "slurm"
    cluster = slurm.pop("cluster", None)
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    executor.update_parameters(**slurm)
    jobs = [executor.submit(run_group, list(g), *args) for g in groups]
    for job, group in zip(jobs, groups, strict=True):
        try:
            collect(job.result())
        except Exception as exc:  # the job itself died (node lost, time limit): its trials failed
            collect([_outcome(t, "failed", None, f"cluster job failed: {exc}") for t in group])


def _outcome(trial: Trial, status: str, seconds: float | None, error: str | None) -> dict[str, Any]:
    return {"id": trial.id, "status": status, "seconds": seconds, "error": error}


def _message(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, MedSegError) else f"{type(exc).__name__}: {exc}"


def run_group(trials: list[Trial], spec: dict[str, Any], data: str, out_dir: str, threads: int,
              device: str) -> list[dict[str, Any]]:
    """Train once for ``trials`` (one training arm, fold and seed) and evaluate each; their outcomes.

    A module-level function of plain arguments, so a cluster executor can pickle it.
    """
    out = Path(out_dir)
    started = time.monotonic()
    try:
        train_dir = _train(trials[0], spec, Path(data), out, threads, device)
    except Exception as exc:
        return [_outcome(t, "failed", None, _message(exc)) for t in trials]
    train_s = time.monotonic() - started
    outcomes = []
    for trial in trials:
        began = time.monotonic()
        try:
            seconds = round(train_s + _evaluate(trial, spec, Path(data), out, train_dir, device, began,
                                                train_s), 3)
            outcomes.append(_outcome(trial, "done", seconds, None))
        except Exception as exc:
            outcomes.append(_outcome(trial, "failed", None, _message(exc)))
    return outcomes


def trial_overrides(trial: Trial, spec: Mapping[str, Any], threads: int) -> dict[str, Any]:
    """The dotted recipe keys a trial trains with: the spec's, its arms', its seed, threads, budget."""
    overrides = {**spec["overrides"], **trial.overrides, "training.seed": trial.seed,
                 "training.threads": threads}
    if "epochs" in spec["budget"]:
        overrides["training.epochs"] = spec["budget"]["epochs"]
    return overrides


def _train(trial: Trial, spec: Mapping[str, Any], data: Path, out: Path, threads: int, device: str) -> Path:
    from MedSegTrain.training.api import train

    final = out / "train" / trial.train_id
    if (final / DONE).is_file():
        return final
    with atomic_output_dir(final) as tmp:
        train(data, tmp, spec["recipe"], folds=[trial.fold],
              time_budget_minutes=spec["budget"].get("minutes"),
              overrides=trial_overrides(trial, spec, threads), device=device)
        (tmp / DONE).write_text("", encoding="utf-8")
    return final


def _evaluate(trial: Trial, spec: Mapping[str, Any], data: Path, out: Path, train_dir: Path, device: str,
              began: float, train_s: float) -> float:
    """Predict the fold's validation cases, score them, write the trial folder; the seconds it took."""
    from MedSegTrain.data import load_case, load_dataset
    from MedSegTrain.inference.predictor import predict_volume
    from MedSegTrain.metrics.evaluate import evaluate_label_maps

    ensemble = trial.inference.get("ensemble", "single")
    if ensemble != "single":
        raise MedSegError(f"inference.ensemble '{ensemble}' is not run by the experiment runner yet "
                          "(only 'single': each fold's own model on its validation cases)")
    split = parse_json(read_config_text(train_dir / "split.json", "split"), str(train_dir / "split.json"))
    fold = next((f for f in split["folds"] if int(f["index"]) == trial.fold), None)
    if fold is None:
        raise MedSegError(f"trial {trial.id}: the split has no fold {trial.fold}")
    dataset = load_dataset(data)
    labels = {name: int(v) for name, v in dataset.labels.items() if int(v) != 0}
    bundle = train_dir / f"fold_{trial.fold}" / "bundle"
    records: list[dict[str, Any]] = []
    for case_id in fold["val"]:
        loaded = load_case(dataset.case(case_id))
        prediction = predict_volume([bundle], loaded.channels, tta=int(trial.inference.get("tta", 0)),
                                    device=device)
        records += evaluate_label_maps(case_id, prediction.label.array, loaded.label,
                                       loaded.reference.spacing_zyx, labels, dataset.regions,
                                       nsd_tolerance=spec.get("nsd_tolerance"))
    rows = results.case_rows(trial, records, spec["metrics"])
    seconds = time.monotonic() - began
    with atomic_output_dir(out / "trials" / trial.id) as tmp:
        write_json_atomic(tmp / "summary.json", results.trial_summary(rows, spec["metrics"]))
        write_json_atomic(tmp / "cases.json", rows)
        write_json_atomic(tmp / "trial.json", {**trial.record(), "seconds": round(train_s + seconds, 3),
                                               "train_seconds": round(train_s, 3)})
        (tmp / DONE).write_text("", encoding="utf-8")
    return seconds


def _write_table(out_dir: Path, spec: Mapping[str, Any], trials: Sequence[Trial],
                 by_id: Mapping[str, Mapping[str, Any]]) -> None:
    rows: list[dict[str, Any]] = []
    for trial in trials:
        if by_id[trial.id]["status"] == "done":
            path = out_dir / "trials" / trial.id / "cases.json"
            rows += parse_json(read_config_text(path, "trial table"), str(path))
    names = [f["name"] for f in spec["factors"]]
    results.write_cases(out_dir, rows, results.columns(names, spec["metrics"]))
