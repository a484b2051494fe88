"""The end-to-end demo: phantoms -> two-fold ensemble -> ensemble inference -> comparison report.

Everything runs on data the project generates itself, on a laptop CPU in a few minutes, and
leaves a folder a newcomer can open: ``report.md`` (metric table, figures), ``overlays.png``,
``render3d.png``, ``metrics.csv``, the bundles, the predictions and the datasets.

``medsegtrain demo`` imports this module only when it runs (it pulls in torch), after it has set
``OMP_WAIT_POLICY``.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from MedSegTrain.bundle import load_bundle
from MedSegTrain.data import load_dataset
from MedSegTrain.data.phantoms import generate_phantom_dataset
from MedSegTrain.device import resolve_device
from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import write_text_atomic
from MedSegTrain.inference import predict_volume
from MedSegTrain.io import read_image, write_image
from MedSegTrain.metrics.evaluate import evaluate_label_maps, summarize
from MedSegTrain.output_folder import LOCK, MARKER, claim_output_folder
from MedSegTrain.predict_options import OptionError, PredictOptions
from MedSegTrain.progress import Progress
from MedSegTrain.reporting.markdown import markdown_table, text_table
from MedSegTrain.reporting.overlay import OverlayCase, save_overlay_figure
from MedSegTrain.reporting.render3d import render_label_surfaces
from MedSegTrain.training import train

REPORT_METRICS = ("dice", "iou", "hd95", "msd", "arvd", "recall", "precision")


@dataclass
class DemoOptions:
    """What the demo generates and how long it trains."""

    out: Path
    kind: str = "prostate-mri"
    train_cases: int = 16
    test_cases: int = 4
    folds: int = 2
    minutes: float = 3.0
    seed: int = 0
    device: str = "auto"
    tta: int = 4


@dataclass
class DemoResult:
    """Where the report went, and the per-case metric rows shown in it."""

    report: Path
    table: str
    rows: list[dict[str, object]]


def run_demo(options: DemoOptions, progress: Progress) -> DemoResult:
    """Generate data, train, predict the held-out phantoms with the ensemble, evaluate, report."""
    out = Path(options.out)
    settings = _check_options(options)
    claim = claim_output_folder(out, "demo")  # new or empty: a demo never mixes with other files
    if any(p.name not in (MARKER, LOCK) for p in out.iterdir()):
        raise MedSegError(f"--out {out}: holds an earlier demo run; choose a new folder (or delete it)")
    started = time.perf_counter()
    progress.log(f"[1/4] generating {options.train_cases} training and {options.test_cases} held-out "
                 f"{options.kind} phantoms in {out}")
    train_dir = generate_phantom_dataset(options.kind, options.train_cases, out / "data", seed=options.seed)
    test_dir = generate_phantom_dataset(options.kind, options.test_cases, out / "test_data",
                                        seed=options.seed + 10_000)
    progress.log(f"[2/4] training a {options.folds}-fold ensemble ({options.minutes:g} min budget)")
    bundle_paths = train(train_dir, out / "models", recipe="auto", folds=list(range(options.folds)),
                         time_budget_minutes=options.minutes,
                         overrides={"split": {"n_folds": options.folds, "test_fraction": 0.0},
                                    "seed": options.seed},
                         device=options.device, progress=progress)
    bundles = [load_bundle(p) for p in bundle_paths]
    progress.log(f"[3/4] predicting {options.test_cases} held-out cases with {len(bundles)} models, "
                 f"TTA {options.tta}")
    test_set = load_dataset(test_dir)
    label_names = {v: k for k, v in test_set.labels.items() if v != 0}
    rows: list[dict[str, object]] = []
    overlays = []
    for case in test_set.training:
        channels = [read_image(p) for p in case.images]
        prediction = predict_volume(bundles, channels, options=settings, progress=progress,
                                    largest_component=True)
        write_image(prediction.label, out / "predictions" / f"{case.case_id}.nii.gz")
        reference = read_image(case.label)
        rows.extend(_case_rows(case.case_id, prediction.label.array, reference.array,
                               reference.spacing_zyx, label_names))
        overlays.append((case.case_id, channels[0].array, reference.array, prediction.label.array,
                         reference.spacing_zyx))
    progress.log("[4/4] writing the report")
    report = _write_report(out, options, rows, overlays, bundles, time.perf_counter() - started)
    header, table_rows = _summary(rows)
    claim.release()
    return DemoResult(report=report, table=text_table(header, table_rows), rows=rows)


def _check_options(options: DemoOptions) -> PredictOptions:
    """Every option, before the phantoms or the training (a bad --tta used to fail after minutes);
    returns the prediction's options."""
    try:
        settings = PredictOptions(tta=options.tta, device=options.device).validate()
    except OptionError as exc:
        raise exc.for_cli() from None
    resolve_device(options.device)
    if options.train_cases < 2 * options.folds:
        raise MedSegError(f"--train-cases {options.train_cases} is too few for {options.folds} folds "
                          f"(need at least {2 * options.folds})")
    if options.test_cases < 1:
        raise MedSegError(f"--test-cases must be at least 1, got {options.test_cases}")
    if options.seed < 0:
        raise MedSegError(f"--seed must be a whole number >= 0, got {options.seed}")
    if options.folds < 1:
        raise MedSegError(f"--folds must be at least 1, got {options.folds}")
    if not (0 < options.minutes < float("inf")):
        raise MedSegError(f"--minutes must be positive (a finite number), got {options.minutes}")
    return settings


def _case_rows(case_id: str, pred: np.ndarray, ref: np.ndarray, spacing: tuple[float, ...],
               label_names: dict[int, str]) -> list[dict[str, object]]:
    labels = {name: value for value, name in sorted(label_names.items())}
    records = evaluate_label_maps(case_id, pred, ref, spacing, labels)
    return [{"case": case_id, "label": r["target"], **{k: float(r[k]) for k in REPORT_METRICS}}
            for r in records]


def _summary(rows: list[dict[str, object]]) -> tuple[list[str], list[list[object]]]:
    """Per-label mean over cases of the finite values, and the number of cases."""
    header = ["label", *REPORT_METRICS, "cases"]
    summaries = summarize([{**r, "target": r["label"]} for r in rows], REPORT_METRICS)
    table = [[label, *(by_metric[m].mean for m in REPORT_METRICS), by_metric[REPORT_METRICS[0]].n]
             for label, by_metric in summaries.items()]
    return header, table


def _write_report(out: Path, options: DemoOptions, rows: list[dict[str, object]], overlays: list,
                  bundles: list, seconds: float) -> Path:
    cases = []
    for case_id, image, ref, pred, spacing in overlays:
        dice = np.mean([float(r["dice"]) for r in rows if r["case"] == case_id])
        cases.append(OverlayCase(case_id, image, ref, pred, spacing, caption=f"mean Dice {dice:.3f}"))
    save_overlay_figure(cases, out / "overlays.png", title="Held-out phantoms: reference vs ensemble")
    first = overlays[0]
    render_label_surfaces(first[3], first[4], out / "render3d.png", reference=first[2])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out / "metrics.csv", buffer.getvalue())
    header, summary = _summary(rows)
    per_case = [[r["case"], r["label"], *[r[m] for m in REPORT_METRICS]] for r in rows]
    members = "\n".join(f"- `{b.path}`: network `{b.meta['network']['name']}`, "
                        f"{b.n_members} member(s)" for b in bundles)
    text = f"""# MedSegMixup demo report

{options.train_cases} `{options.kind}` phantoms trained a {options.folds}-fold ensemble
({options.minutes:g}-minute budget); {options.test_cases} held-out phantoms (another seed) were
segmented by the ensemble with {options.tta} test-time augmentation variants (largest connected
component kept per label) and compared with
their references. Total time {seconds / 60:.1f} min.

## Summary (mean over held-out cases; non-finite distances left out of the mean)

{markdown_table(header, summary)}

Distances in mm. Definitions: FORMULAS.md (Dice, IoU, HD95 and mean surface distance on
6-connected surfaces; ARVD = |#P - #R| / #R).

## Per case

{markdown_table(["case", "label", *REPORT_METRICS], per_case)}

## Figures

![overlays](overlays.png)

Reference outline green, prediction magenta (dashed); errors: false positives red, false
negatives blue, on the slice with the largest reference area.

![3D render](render3d.png)

Prediction surfaces of `{first[0]}` (coloured by label) inside the reference (grey glass).

## Models

{members}
"""
    write_text_atomic(out / "report.md", text)
    return out / "report.md"
