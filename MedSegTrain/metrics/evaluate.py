"""Evaluation: predictions against references, from files or arrays, per case and over cases (X10, B10, L2).

The one place that decides how a prediction is scored against its reference; ``medsegtrain
evaluate``, the demo, the held-out scores of training and the Slicer compare panel all go
through it:

* :func:`match_cases` — one file pair, or two folders matched by case id
  (:func:`MedSegTrain.io.case_id`; an nnU-Net ``_0000`` channel suffix is ignored on either side
  unless that would merge two files of one folder); unmatched ids are reported, not dropped;
* :func:`onto_reference` — a prediction on another grid that overlaps the reference in physical
  space is resampled onto the reference grid (nearest neighbour, background outside,
  :func:`MedSegTrain.preprocessing.resampling.resample_to_reference`); grids that do not
  overlap are refused with both geometries in the message;
* :func:`evaluate_pair` / :func:`evaluate_label_maps` / :func:`evaluate_masks` — the
  ``FORMULAS.md`` metrics of one case per label/region (*records*, see
  :mod:`MedSegTrain.metrics.aggregate`), or of one binary pair; :func:`overlap_scores` — Dice
  and IoU only, from voxel counts (numpy or torch masks: the held-out scores of training);
* :func:`evaluate_cases` — every matched pair, absent labels filled in, and the summary over
  cases (:func:`summarize`: mean, sd, median, 95 % CI per target and metric).

Reading files needs SimpleITK (through :mod:`MedSegTrain.io`); nothing here imports torch, so
the Slicer module can use it. ``import MedSegTrain.metrics`` does not import this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from MedSegTrain.errors import MedSegError
from MedSegTrain.io import IMAGE_SUFFIXES, Volume, case_id, read_image
from MedSegTrain.metrics.aggregate import Summary, summarize_records
from MedSegTrain.metrics.binary import METRIC_NAMES
from MedSegTrain.metrics.labels import as_label_map, compute_label_metrics
from MedSegTrain.metrics.overlap import dice, iou, mask_counts
from MedSegTrain.metrics.slice2d import msd_2d
from MedSegTrain.progress import Progress

VOLUME_COLUMNS = ("volume_pred_ml", "volume_ref_ml")
_CHANNEL_SUFFIX = re.compile(r"_0000$")

Pair = tuple[str, Path, Path]  # (case id, prediction file, reference file)


@dataclass
class Evaluation:
    """What :func:`evaluate_cases` found: per-case records, their summaries, and notes for the user."""

    records: list[dict[str, Any]]
    summaries: dict[str, dict[str, Summary]]
    columns: list[str]
    notes: list[str] = field(default_factory=list)


def match_cases(pred: Path, ref: Path) -> tuple[list[Pair], dict[str, list[str]]]:
    """``[(case_id, pred_file, ref_file)]`` and the unmatched ids per side.

    Two files form one pair; two folders are matched by case id, the nnU-Net channel suffix
    ``_0000`` ignored on either side unless that would merge two files of one folder.
    """
    pred, ref = Path(pred), Path(ref)
    for path, option in ((pred, "--pred"), (ref, "--ref")):
        if not path.exists():
            raise MedSegError(f"{option} {path}: no such file or folder")
    if pred.is_dir() != ref.is_dir():
        raise MedSegError(f"--pred {pred} and --ref {ref} must both be files or both be folders")
    if not pred.is_dir():
        return [(case_id(ref), pred, ref)], {"predictions": [], "references": []}
    pred_files, ref_files = _case_files(pred, "--pred"), _case_files(ref, "--ref")
    common = sorted(set(pred_files) & set(ref_files))
    if not common:
        raise MedSegError(f"no case ids in common between --pred {pred} ({len(pred_files)} images) and "
                          f"--ref {ref} ({len(ref_files)} images)")
    unmatched = {"predictions": sorted(set(pred_files) - set(ref_files)),
                 "references": sorted(set(ref_files) - set(pred_files))}
    return [(cid, pred_files[cid], ref_files[cid]) for cid in common], unmatched


def _case_files(folder: Path, option: str) -> dict[str, Path]:
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(IMAGE_SUFFIXES))
    ids = [case_id(p) for p in files]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise MedSegError(f"{option} {folder}: several files for case(s) {', '.join(duplicates)}")
    stripped = [_CHANNEL_SUFFIX.sub("", i) for i in ids]
    keys = stripped if len(set(stripped)) == len(stripped) else ids
    return dict(zip(keys, files, strict=True))


def onto_reference(pred: Volume, ref: Volume, pred_name: str = "prediction",
                   ref_name: str = "reference") -> Volume:
    """``pred`` on ``ref``'s grid: itself when the grids agree, else resampled (nearest neighbour,
    background outside its own grid); MedSegError when the two do not overlap in physical space."""
    from MedSegTrain.preprocessing.resampling import resample_to_reference

    if pred.geometry.same_as(ref.geometry):
        return pred
    if pred.ndim != ref.ndim:
        raise MedSegError(f"prediction {pred_name} is {pred.ndim}D but reference {ref_name} is {ref.ndim}D")
    (p_low, p_high), (r_low, r_high) = pred.geometry.physical_bounds(), ref.geometry.physical_bounds()
    if any(ph <= rl or rh <= pl for pl, ph, rl, rh in zip(p_low, p_high, r_low, r_high, strict=True)):
        raise MedSegError(
            f"prediction {pred_name} and reference {ref_name} do not overlap in physical space; "
            f"prediction geometry {pred.geometry.to_dict()}, reference geometry {ref.geometry.to_dict()}"
        )
    return resample_to_reference(pred, ref.geometry, "nearest", extrapolate=False)


def evaluate_pair(
    case: str,
    pred_path: Path,
    ref_path: Path,
    labels: Mapping[str, int] | None = None,
    regions: Mapping[str, Sequence[int]] | None = None,
    with_msd_2d: bool = False,
    nsd_tolerance: float | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Records (one per label/region) of one case read from files, and notes about what was done
    to the inputs (a prediction resampled onto the reference grid)."""
    pred_volume, ref_volume = read_image(pred_path), read_image(ref_path)
    notes: list[str] = []
    if not pred_volume.geometry.same_as(ref_volume.geometry):
        pred_volume = onto_reference(pred_volume, ref_volume, str(pred_path), str(ref_path))
        notes.append(f"case {case}: the prediction's grid differs from the reference's; resampled "
                     "onto the reference grid (nearest neighbour)")
    pred = as_label_map(pred_volume.array, f"prediction {pred_path}")
    ref = as_label_map(ref_volume.array, f"reference {ref_path}")
    return evaluate_label_maps(case, pred, ref, ref_volume.spacing_zyx, labels, regions, with_msd_2d,
                               nsd_tolerance), notes


def evaluate_label_maps(
    case: str,
    pred: np.ndarray,
    ref: np.ndarray,
    spacing: Sequence[float] | None = None,
    labels: Mapping[str, int] | None = None,
    regions: Mapping[str, Sequence[int]] | None = None,
    with_msd_2d: bool = False,
    nsd_tolerance: float | None = None,
) -> list[dict[str, Any]]:
    """Records ``{"case", "target", metric: value}`` of two label maps on one grid (spacing in array
    order ``(z, y, x)``), one per label and region (:func:`compute_label_metrics`; ``nsd`` with
    ``nsd_tolerance`` in mm)."""
    results = compute_label_metrics(pred, ref, labels, regions, spacing=spacing, nsd_tolerance=nsd_tolerance)
    records = []
    for target, values in results.items():
        record: dict[str, Any] = {"case": case, "target": target, **values}
        if with_msd_2d:
            members = _members(target, labels, regions)
            record["msd_2d"] = msd_2d(np.isin(pred, members), np.isin(ref, members))
        records.append(record)
    return records


def evaluate_masks(
    pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float] | None = None,
    nsd_tolerance: float | None = None,
) -> dict[str, float]:
    """The metrics (and volumes in mL) of one binary pair on one grid; spacing in array order (z, y, x)."""
    name = "mask"
    return compute_label_metrics(np.asarray(pred).astype(np.uint8), np.asarray(ref).astype(np.uint8),
                                 labels={name: 1}, spacing=spacing, nsd_tolerance=nsd_tolerance)[name]


def overlap_scores(pred: Any, ref: Any) -> dict[str, float]:
    """Dice and IoU of two boolean masks (numpy or torch), from their voxel counts (FORMULAS.md)."""
    counts = mask_counts(pred, ref)
    return {"dice": dice(counts), "iou": iou(counts)}


def _members(target: str, labels: Mapping[str, int] | None,
             regions: Mapping[str, Sequence[int]] | None) -> list[int]:
    if regions and target in regions:
        return regions[target]
    return [labels[target]] if labels else [int(target)]


def fill_absent_labels(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """With default labels, a value absent from both maps of a case still gets its row there.

    Its metrics are those of two empty masks (dice 1, nsd 1, distances 0, FORMULAS.md), whatever the size.
    """
    targets = list(dict.fromkeys(r["target"] for r in records))
    cases = list(dict.fromkeys(r["case"] for r in records))
    present = {(r["case"], r["target"]) for r in records}
    if not records or len(present) == len(cases) * len(targets):
        return records
    numbered = sorted((t for t in targets if t.isdigit()), key=int)
    targets = numbered + [t for t in targets if not t.isdigit()]
    empty = np.zeros((1, 1), np.uint8)
    filled = []
    by_key = {(r["case"], r["target"]): r for r in records}
    template = next(iter(records))
    for case in cases:
        for target in targets:
            if (case, target) in by_key:
                filled.append(by_key[(case, target)])
                continue
            tolerance = 0.0 if "nsd" in template else None
            values = compute_label_metrics(empty, empty, {target: int(target)},
                                           nsd_tolerance=tolerance)[target]
            row = {"case": case, "target": target, **values}
            if "msd_2d" in template:
                row["msd_2d"] = 0.0
            filled.append(row)
    return filled


def summarize(records: Sequence[Mapping[str, Any]], metrics: Sequence[str],
              inf_value: float | None = None) -> dict[str, dict[str, Summary]]:
    """``{target: {metric: Summary}}`` over the cases of each target, in first-seen order: mean, sd,
    median and 95 % CI of the finite values, NaN and inf left out and counted (inf replaced by
    ``inf_value`` when given; :mod:`MedSegTrain.metrics.aggregate`)."""
    return summarize_records(records, metrics, inf_value=inf_value)


def evaluate_cases(
    pairs: Sequence[Pair],
    unmatched: Mapping[str, Sequence[str]] | None = None,
    labels: Mapping[str, int] | None = None,
    regions: Mapping[str, Sequence[int]] | None = None,
    metrics: Sequence[str] = METRIC_NAMES,
    with_msd_2d: bool = False,
    inf_value: float | None = None,
    progress: Progress | None = None,
    nsd_tolerance: float | None = None,
) -> Evaluation:
    """Every pair of :func:`match_cases` scored, absent labels filled in, summarised over cases.

    ``metrics`` (plus ``msd_2d`` with ``with_msd_2d``, ``nsd`` with ``nsd_tolerance`` in mm) and the
    two volume columns are kept in each record; ``unmatched`` and empty maps become notes.
    """
    progress = progress or Progress("none")
    notes: list[str] = []
    for side, other, key in (("prediction", "reference", "predictions"),
                             ("reference", "prediction", "references")):
        ids = (unmatched or {}).get(key) or []
        if ids:
            notes.append(f"not evaluated: {len(ids)} {side}(s) without a {other}: {', '.join(ids)}")
    progress.task("evaluate", len(pairs))
    records: list[dict[str, Any]] = []
    for case, pred_path, ref_path in pairs:
        case_records, case_notes = evaluate_pair(case, pred_path, ref_path, labels, regions, with_msd_2d,
                                                 nsd_tolerance)
        records += case_records
        notes += case_notes
        progress.advance(1, message=case)
    progress.close()
    if not records:
        notes.append("no non-zero label in any prediction or reference: nothing to report "
                     "(give --labels to report absent labels)")
    records = fill_absent_labels(records)
    metrics = [*metrics, *(["nsd"] if nsd_tolerance is not None and "nsd" not in metrics else [])]
    columns = [*metrics, *(["msd_2d"] if with_msd_2d and "msd_2d" not in metrics else []), *VOLUME_COLUMNS]
    records = [{"case": r["case"], "target": r["target"], **{c: r[c] for c in columns}} for r in records]
    return Evaluation(records, summarize(records, columns, inf_value=inf_value), columns, notes)
