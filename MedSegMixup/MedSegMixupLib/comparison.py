"""Compare a prediction with a reference segmentation: per-segment metrics, FP/FN maps, CSV (S1, X10, B10).

The metric values come from the backend's evaluation module,
``MedSegTrain.metrics.evaluate.evaluate_masks`` (FORMULAS.md definitions, the same numbers as
``medsegtrain evaluate``); this module only matches segments between the two segmentations,
builds the error maps and formats the table.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .workspace import FALSE_NEGATIVE_COLOR, FALSE_POSITIVE_COLOR, Segmentation

# (metric key of evaluate_masks, column title, decimals, column tooltip); the CSV has more
# (precision, hd, volumes in mL).
TABLE_METRICS: tuple[tuple[str, str, int, str], ...] = (
    ("dice", "Dice", 3, "Dice similarity coefficient 2|P∩R| / (|P|+|R|)"),
    ("iou", "IoU", 3, "Intersection over union (Jaccard)"),
    ("hd95", "HD95", 1, "95th percentile Hausdorff distance (mm)"),
    ("msd", "MSD", 2, "Mean symmetric surface distance (mm)"),
    ("arvd", "ARVD", 3, "Absolute relative volume difference |P−R| / R"),
    ("recall", "Sens.", 3, "Sensitivity (recall) TP / (TP+FN)"),
    ("specificity", "Spec.", 4, "Specificity TN / (TN+FP)"),
)
COLUMNS = ["Segment", *(title for _key, title, _d, _tip in TABLE_METRICS)]
COLUMN_TOOLTIPS = ["Segment name", *(tip for _key, _title, _d, tip in TABLE_METRICS)]
CSV_KEYS = ["segment", "dice", "iou", "precision", "recall", "specificity", "arvd", "hd", "hd95", "msd",
            "volume_ref_ml", "volume_pred_ml"]


class ComparisonError(ValueError):
    """The two segmentations cannot be compared; the message says why."""


@dataclass
class Comparison:
    """The outcome of one comparison: metrics per matched segment and the error label maps."""

    reference_name: str
    prediction_name: str
    metrics: dict[str, dict[str, float]]
    colors: dict[str, tuple[float, float, float]]
    false_positives: Segmentation
    false_negatives: Segmentation
    reference_any: np.ndarray  # voxels in any compared reference segment (reference grid)
    prediction_any: np.ndarray  # voxels in any compared prediction segment (reference grid)
    errors: np.ndarray  # voxels that are a false positive or a false negative of some segment

    def table_rows(self) -> list[list[str]]:
        """Rows of display text, one per segment."""
        return [[name, *(format_value(values.get(key, math.nan), digits)
                          for key, _t, digits, _tip in TABLE_METRICS)]
                for name, values in self.metrics.items()]

    def csv_text(self) -> str:
        """The metrics as CSV with full precision (inf/nan written as such)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["reference", "prediction", *CSV_KEYS])
        for name, values in self.metrics.items():
            writer.writerow([self.reference_name, self.prediction_name, name,
                             *(repr(float(values[key])) for key in CSV_KEYS[1:])])
        return buffer.getvalue()

    def write_csv(self, path: str | Path) -> Path:
        """Write :meth:`csv_text` to ``path`` atomically."""
        from MedSegTrain.fileutil import write_text_atomic

        path = Path(path)
        write_text_atomic(path, self.csv_text())
        return path


def format_value(value: float, digits: int) -> str:
    """A metric for display: fixed decimals, ``∞`` for infinity, ``n/a`` when undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}f}"


def match_segments(reference: Segmentation, prediction: Segmentation) -> dict[str, tuple[int, int]]:
    """Segment name -> (reference value, prediction value).

    Segments are matched by name; when the two share no name (e.g. a plain label-map file whose
    segments are named by number) they are matched by label value.
    """
    common = [name for name in reference.labels if name in prediction.labels]
    if common:
        return {name: (reference.labels[name], prediction.labels[name]) for name in common}
    by_value = {value: name for name, value in prediction.labels.items()}
    return {name: (value, value) for name, value in reference.labels.items() if value in by_value}


def compare(reference: Segmentation, prediction: Segmentation, reference_name: str = "reference",
            prediction_name: str = "prediction") -> Comparison:
    """Compare ``prediction`` with ``reference`` segment by segment on the reference grid.

    Each matched pair is scored from the two segments' own masks, so overlapping segments
    (BraTS WT ⊃ TC ⊃ ET) are scored exactly; nothing goes through one collapsed label map.
    A prediction stored with another index order of the same voxels (e.g. a flipped y axis) is
    moved onto the reference grid losslessly (``MedSegTrain.io.reorient_like``); other grids are
    refused rather than silently resampled. Spacing is passed in array order (z, y, x).
    """
    # imported here, not at the top: MedSegMixupLib loads without the backend (the panel says so)
    from MedSegTrain.io import reorient_like
    from MedSegTrain.metrics.evaluate import evaluate_masks

    grid = reference.grid
    matches = match_segments(reference, prediction)
    if not matches:
        raise ComparisonError(f"'{prediction_name}' and '{reference_name}' have no segment in common "
                              f"(reference: {', '.join(reference.labels) or 'none'}; prediction: "
                              f"{', '.join(prediction.labels) or 'none'})")
    by_value = {value: name for name, value in prediction.values.items()}
    metrics, fp_masks, fn_masks = {}, {}, {}
    shape = np.asarray(grid.array).shape
    ref_any, pred_any = np.zeros(shape, bool), np.zeros(shape, bool)
    for name, (_ref_value, pred_value) in matches.items():
        ref_mask = reference.mask(name)
        pred_source = prediction.mask(name if name in prediction.masks else by_value[pred_value])
        moved = reorient_like(prediction.grid.with_array(pred_source.astype(np.uint8)), grid.geometry)
        if moved is None:
            raise ComparisonError(
                f"'{prediction_name}' (size {tuple(reversed(np.asarray(prediction.grid.array).shape))}) and "
                f"'{reference_name}' (size {tuple(reversed(shape))}) lie on different image grids; compare "
                "segmentations of the same volume (resample one onto the other first)")
        pred_mask = np.asarray(moved.array).astype(bool)
        metrics[name] = evaluate_masks(pred_mask, ref_mask, spacing=grid.spacing_zyx)
        fp_masks[f"{name} FP"] = pred_mask & ~ref_mask
        fn_masks[f"{name} FN"] = ref_mask & ~pred_mask
        ref_any |= ref_mask
        pred_any |= pred_mask
    values = {name: ref_value for name, (ref_value, _p) in matches.items()}
    fp_seg = Segmentation.from_masks(grid, fp_masks, {f"{n} FP": v for n, v in values.items()},
                                     {f"{n} FP": FALSE_POSITIVE_COLOR for n in values})
    fn_seg = Segmentation.from_masks(grid, fn_masks, {f"{n} FN": v for n, v in values.items()},
                                     {f"{n} FN": FALSE_NEGATIVE_COLOR for n in values})
    errors = np.any([*fp_masks.values(), *fn_masks.values()], axis=0)
    return Comparison(reference_name, prediction_name, metrics, {n: reference.colors[n] for n in values},
                      fp_seg, fn_seg, ref_any, pred_any, errors)
