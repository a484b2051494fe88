"""``MedSegTrain.training.train``: dataset folder in, one model bundle per fold out.

Output layout (``OUT``)::

    OUT/config.json          the resolved recipe (all keys, after planning and overrides)
    OUT/split.json           the patient-level split (folds + held-out test cases)
    OUT/cache/               preprocessed arrays, reused by later runs and folds
    OUT/fold_<k>/bundle/     the model bundle (model.json + fold<k>.safetensors)
    OUT/fold_<k>/checkpoint/ last.pt (every epoch) and best.pt, for --resume
    OUT/fold_<k>/log.csv     one row per epoch; curves.png; tensorboard/ (when installed)
    OUT/fold_<k>/metrics.json  validation metrics, stop reason, data-wait share
    OUT/summary.json         every fold's metrics and, with a test hold-out, the ensemble's test Dice
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from MedSegTrain.device import resolve_device
from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import write_json_atomic
from MedSegTrain.output_folder import OutputClaim, claim_output_folder
from MedSegTrain.progress import Progress
from MedSegTrain.training import config as cfgmod
from MedSegTrain.training.options import RecipeOptions
from MedSegTrain.training.resolve import build_config, make_split, network_spec, output_plan, resolve_run
from MedSegTrain.training.transfer import encoder_freezer, initial_weights

__all__ = ["build_config", "make_split", "network_spec", "output_plan", "resolved_config", "train"]

BUDGET_RESERVE = 0.05  # share of the time kept for writing bundles and scoring the held-out test cases


def resolved_config(
    data: Path,
    recipe: str | Path | dict = "auto",
    folds: list[int] | None = None,
    time_budget_minutes: float | None = None,
    overrides: dict | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """The exact config :func:`train` would run with these arguments, checked whole; writes nothing."""
    from MedSegTrain.training.distributed import from_environment

    dev = resolve_device(device, from_environment(device).local_rank)
    dataset = _load(Path(data))
    return resolve_run(dataset, recipe, nested_overrides(overrides), dev, time_budget_minutes, folds).config


def _claim_out_dir(out_dir: Path, data: Path) -> OutputClaim:
    """``out_dir`` new, empty or an earlier training run (also one from before the marker file), not
    the dataset, and locked against a second training into it."""
    def earlier_run(folder: Path) -> bool:
        return (folder / "config.json").is_file() and (folder / "split.json").is_file()

    return claim_output_folder(out_dir, "train", inputs=[data], recognise=earlier_run)


def _load(data: Path, dataset: Any = None) -> Any:
    """``data``'s dataset (loaded unless given), with training cases and without problems."""
    from MedSegTrain.data import load_dataset, validate_dataset

    dataset = load_dataset(Path(data)) if dataset is None else dataset
    if not dataset.training:
        raise MedSegError(f"--data {data}: the dataset lists no training cases")
    problems = validate_dataset(dataset)
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise MedSegError(f"--data {data}: " + "; ".join(problems[:5]) + more)
    return dataset


def bundle_meta(
    dataset: Any,
    config: Mapping[str, Any],
    fold: int,
    metrics: Mapping[str, Any],
    spec_dict: Mapping[str, Any],
    output: Any,
) -> Any:
    """The :class:`MedSegTrain.bundle.meta.BundleMeta` of one fold's bundle (``model.json``)."""
    from MedSegTrain.bundle.meta import InferenceSettings, MemberInfo, build_meta

    return build_meta(
        name=f"{dataset.name} fold {fold}",
        network={"name": config["network"]["name"], "args": dict(config["network"]["args"])},
        channels=list(dataset.channel_names),
        modality=dataset.modality,
        output=output.spec,
        preprocessing=spec_dict,
        inference=InferenceSettings.for_patch(config["patch"]["mode"], config["patch"]["size"],
                                              float(config["validation"]["overlap"])),
        recipe=config,
        validation_metrics=metrics,
        members=[MemberInfo.for_fold(fold, metrics)],
    )


def _augmenter(config: Mapping[str, Any]) -> Any:
    section = config["augmentation"]
    if not section:
        return None
    from MedSegTrain.augment import build_augmentation

    return build_augmentation(dict(section))


def train(
    data: Path,
    out_dir: Path,
    recipe: str | Path | dict = "auto",
    folds: list[int] | None = None,
    time_budget_minutes: float | None = None,
    overrides: dict | None = None,
    device: str = "auto",
    progress: Progress | None = None,
    resume: bool = False,
    dataset: Any = None,
) -> list[Path]:
    """Train the folds of ``recipe`` on dataset ``data``; returns one bundle path per fold.

    ``overrides`` is a nested dict (``{"optimizer": {"lr": 3e-4}}``) or dotted keys
    (``{"optimizer.lr": 3e-4}``). ``time_budget_minutes`` covers the whole call and is shared
    evenly by the folds still to train. ``resume`` continues from the folds' checkpoints.
    ``dataset`` is ``data`` already loaded (the transfer chain loads each site once); it is
    checked here like a freshly loaded one.
    """
    import torch

    from MedSegTrain.training.distributed import barrier, from_environment
    from MedSegTrain.training.engine import FoldJob, FoldTrainer

    started = time.monotonic()
    progress = progress or Progress("none")
    out_dir = Path(out_dir)
    ctx = from_environment(device)
    dev = resolve_device(device, ctx.local_rank)
    dataset = _load(Path(data), dataset)
    run = resolve_run(dataset, recipe, nested_overrides(overrides), dev, time_budget_minutes, folds)
    config, split, chosen, output, network = run.config, run.split, run.chosen, run.output, run.network
    options = run.options
    dataset = run.dataset  # with data.merge_labels: the merged labels (T1)
    # resolved and checked whole: only now is the folder claimed, held until train() returns
    claim = _claim_out_dir(out_dir, Path(data)) if ctx.is_main else None
    if options.training.threads:
        torch.set_num_threads(options.training.threads)
    if not resume:
        for fold in chosen:
            if (out_dir / f"fold_{fold.index}" / "checkpoint").exists():
                raise MedSegError(
                    f"--out {out_dir}: fold {fold.index} already has a training run there; "
                    "pass --resume to continue it, or choose an empty --out"
                )
    if ctx.is_main:
        write_json_atomic(out_dir / "config.json", config)
        write_json_atomic(out_dir / "split.json", split.to_dict())
    from MedSegTrain.preprocessing.pipeline import PreprocessingSpec
    from MedSegTrain.training.loader import prepare_cases

    spec = PreprocessingSpec.from_dict(config["preprocessing"])
    by_id = {c.case_id: c for c in dataset.training}
    if ctx.is_main:
        progress.log(
            f"{dataset.name}: {len(dataset.training)} cases; recipe '{options.name}'; "
            f"{options.patch.mode} patches {list(options.patch.size)} x "
            f"{options.patch.batch_size}; device {dev}; folds {[f.index for f in chosen]}"
        )
        if options.description:
            progress.log(options.description)
    specs = _fold_specs(spec, options, config, chosen, by_id, progress if ctx.is_main else None)
    if ctx.is_main:
        for fold in chosen:
            prepare_cases(
                [by_id[c] for c in (*fold.train, *fold.val)],
                specs[fold.index],
                out_dir / "cache",
                dataset.label_values,
                progress=progress,
                merge=run.merge,
            )
    barrier(ctx)
    cached = {
        fold.index: prepare_cases(
            [by_id[c] for c in (*fold.train, *fold.val)], specs[fold.index], out_dir / "cache",
            dataset.label_values, merge=run.merge,
        )
        for fold in chosen
    }
    budget_s = (
        None
        if options.training.time_budget_minutes is None
        else 60.0 * options.training.time_budget_minutes
    )
    init, freeze = _transfer(options, network)
    bundles, results, models = [], {}, []
    for n_done, fold in enumerate(chosen):
        fold_dir = out_dir / f"fold_{fold.index}"
        fold_budget = None
        if budget_s is not None:
            left = budget_s - (time.monotonic() - started)
            fold_budget = max(left / (len(chosen) - n_done), 1.0) * (1.0 - BUDGET_RESERVE)
        fold_started = time.monotonic()
        retrains = options.filtering.enabled and options.filtering.retrain
        job = FoldJob(
            config=config,
            fold=fold.index,
            network=network,
            train_cases=[cached[fold.index][c] for c in fold.train],
            val_cases=[cached[fold.index][c] for c in fold.val],
            output=output,
            out_dir=fold_dir,
            device=dev,
            ctx=ctx,
            progress=progress,
            # a fold that may retrain without its flagged cases (B9) gives the first run half its time
            time_budget_s=fold_budget / 2 if fold_budget is not None and retrains else fold_budget,
            resume=resume,
            init_weights=init,
            freeze=freeze,
            augmenter=_augmenter(config),
            options=options,
        )
        result = FoldTrainer(job).run()
        if options.filtering.enabled:
            left = None if fold_budget is None else max(fold_budget - (time.monotonic() - fold_started), 1.0)
            result = _filter_and_retrain(job, result, options, config, progress, left)
        if ctx.is_main:
            bundles.append(_write_fold(dataset, config, specs[fold.index], fold_dir, result, output))
            results[fold.index] = _fold_summary(result)
            models.append(_model(network, result.weights, dev))
            progress.log(
                f"fold {fold.index}: validation Dice {result.metrics.get('dice', float('nan')):.4f} "
                f"({result.stop_reason}, {result.epochs_done} epochs, {result.seconds / 60:.1f} min)"
            )
        else:
            bundles.append(fold_dir / "bundle")
    if ctx.is_main:
        summary: dict[str, Any] = {"recipe": options.name, "folds": results, "test_cases": list(split.test)}
        if split.test and options.validation.evaluate_test:
            from MedSegTrain.training.heldout import evaluate_ensemble

            summary["test"] = evaluate_ensemble(
                models,
                [specs[f.index] for f in chosen],
                [dataset.case(c) for c in split.test],
                dataset.label_values,
                {int(v): n for n, v in dataset.labels.items()},
                list(options.patch.size),
                options.patch.mode,
                dev,
                options.validation.overlap,
                progress,
                output=output,
                merge=run.merge,
            )
            progress.log(
                f"held-out test ({len(split.test)} cases), ensemble of {len(bundles)} fold(s): "
                f"mean Dice {summary['test']['dice']:.4f}"
            )
        write_json_atomic(out_dir / "summary.json", summary)
    barrier(ctx)
    if claim is not None:
        claim.release()
    return bundles


def _fold_specs(
    spec: Any, options: RecipeOptions, config: Mapping[str, Any], chosen: Sequence[Any],
    by_id: Mapping[str, Any], progress: Any,
) -> dict[int, Any]:
    """Each fold's preprocessing: ``spec``, or ``fixed-zscore`` with its training cases' statistics."""
    from MedSegTrain.training.checkpoint import stream_seed
    from MedSegTrain.training.normstats import fold_spec

    out = {}
    for fold in chosen:
        seed = stream_seed(options.training_seed, fold.index, 10**6 + 2)
        out[fold.index] = fold_spec(spec, config["statistics"], [by_id[c] for c in fold.train], seed)
        if progress is not None and out[fold.index] is not spec:
            params = out[fold.index].norm_params
            progress.log(f"fold {fold.index}: z-score statistics of {params['source']}: "
                         f"mean {params['mean']}, sd {params['std']}")
    return out


def _model(network: Mapping[str, Any], weights: Mapping[str, Any], device: Any) -> Any:
    from MedSegTrain.networks import get_network

    model = get_network(network["name"], **network["args"])
    model.load_state_dict(dict(weights))
    return model.to(device).eval()


def nested_overrides(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """A private nested copy of ``overrides`` (dotted keys or nested dicts): callers never share it."""
    import copy

    out: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        cfgmod.set_path(out, str(key), copy.deepcopy(value))
    return out


def _filter_and_retrain(
    job: Any, result: Any, options: RecipeOptions, config: Mapping[str, Any], progress: Progress,
    budget_s: float | None,
) -> Any:
    """B9: score every training case with the fold's final model, flag outliers, optionally retrain.

    ``budget_s`` is the fold's time still left, which the retrain may use.
    """
    from dataclasses import replace

    from MedSegTrain.training.engine import FoldTrainer
    from MedSegTrain.training.filtering import case_losses, flag_outliers
    from MedSegTrain.training.objective import build_objective

    model = _model(job.network, result.weights, job.device)
    loss_fn = build_objective({**config["loss"], "deep_supervision": False}, job.output.activation)
    losses = case_losses(
        model,
        job.train_cases,
        loss_fn,
        job.output,
        list(options.patch.size),
        options.patch.mode,
        job.device,
        options.validation.overlap,
    )
    flagged = flag_outliers(losses, options.filtering.z_threshold)
    report = {
        "losses": losses,
        "flagged": flagged,
        "z_threshold": options.filtering.z_threshold,
        "retrained": bool(flagged and options.filtering.retrain),
    }
    if job.ctx.is_main:
        write_json_atomic(Path(job.out_dir) / "filtering.json", report)
        progress.log(
            f"fold {job.fold}: {len(flagged)} training case(s) with outlier loss: "
            f"{', '.join(flagged) or 'none'}"
        )
    if not report["retrained"]:
        return result
    kept = [c for c in job.train_cases if c.case_id not in set(flagged)]
    retrain = replace(job, train_cases=kept, out_dir=Path(job.out_dir) / "filtered", time_budget_s=budget_s)
    return FoldTrainer(retrain).run()


def _transfer(options: RecipeOptions, network: Mapping[str, Any]) -> tuple[Any, Any]:
    """Initial weights (a bundle, T5, or local encoder weights, T3) and the encoder freezer."""
    source, weights = options.transfer.init_bundle, options.network.encoder_weights
    if source and weights:
        raise MedSegError("training config: give transfer.init_bundle or network.encoder_weights, not both")
    freeze = encoder_freezer() if options.transfer.freeze_encoder else None
    if weights:
        return _encoder_init(network, Path(weights)), freeze
    if not source:
        return None, None
    return initial_weights(Path(source)), freeze


def _encoder_init(network: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Only the encoder's tensors, read from ``path``: the decoder keeps the seeded initialisation."""
    from MedSegTrain.networks import get_network, load_encoder_weights

    model = get_network(network["name"], **network["args"])
    load_encoder_weights(model, path)
    prefixes = tuple(f"{name}." for name, module in model.named_children() if module is model.encoder)
    prefixes = prefixes or ("encoder.",)
    return {k: v for k, v in model.state_dict().items() if k.startswith(prefixes)}


def _write_fold(
    dataset: Any, config: Mapping[str, Any], spec: Any, fold_dir: Path, result: Any, output: Any
) -> Path:
    from MedSegTrain.bundle import save_bundle

    meta = bundle_meta(dataset, config, result.fold, result.metrics, spec.to_dict(), output)
    path = fold_dir / "bundle"
    save_bundle(path, meta, [result.weights])
    write_json_atomic(fold_dir / "metrics.json", _fold_summary(result))
    return path


def _fold_summary(result: Any) -> dict[str, Any]:
    return {
        "validation": result.metrics,
        "stop_reason": result.stop_reason,
        "epochs": result.epochs_done,
        "minutes": round(result.seconds / 60, 2),
        "data_wait_fraction": round(result.data_wait_fraction, 4),
    }
