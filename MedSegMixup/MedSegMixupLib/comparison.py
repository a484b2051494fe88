"""Compare a prediction with a reference segmentation: per-segment metrics, FP/FN maps, CSV (S1, X10, B10).

The metric values come from ``MedSegTrain.metrics.compute_label_metrics`` (FORMULAS.md
definitions); this module only matches segments between the two segmentations, builds the error
maps and formats the table.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .workspace import FALSE_NEGATIVE_COLOR, FALSE_POSITIVE_COLOR, Segmentation

# (metric key of compute_label_metrics, column title, decimals, column tooltip); the CSV has more
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
    reference_map: np.ndarray  # reference labels, matched values
    prediction_map: np.ndarray  # prediction relabelled to the reference's values

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

    A prediction stored with another index order of the same voxels (e.g. a flipped y axis) is
    moved onto the reference grid losslessly (``MedSegTrain.io.reorient_like``); other grids are
    refused rather than silently resampled.
    """
    from MedSegTrain.io import reorient_like
    from MedSegTrain.metrics.labels import compute_label_metrics

    ref_volume = reference.labelmap
    pred_volume = reorient_like(prediction.labelmap, ref_volume.geometry)
    if pred_volume is None:
        raise ComparisonError(
            f"'{prediction_name}' (size {tuple(reversed(prediction.labelmap.array.shape))}) and "
            f"'{reference_name}' (size {tuple(reversed(ref_volume.array.shape))}) lie on different image "
            "grids; compare segmentations of the same volume (resample one onto the other first)")
    matches = match_segments(reference, prediction)
    if not matches:
        raise ComparisonError(f"'{prediction_name}' and '{reference_name}' have no segment in common "
                              f"(reference: {', '.join(reference.labels) or 'none'}; prediction: "
                              f"{', '.join(prediction.labels) or 'none'})")
    ref_map = np.zeros(ref_volume.array.shape, np.int32)
    pred_map = np.zeros(ref_volume.array.shape, np.int32)
    ref_array, pred_array = np.asarray(ref_volume.array), np.asarray(pred_volume.array)
    for ref_value, pred_value in matches.values():
        ref_map[ref_array == ref_value] = ref_value
        pred_map[pred_array == pred_value] = ref_value
    labels = {name: values[0] for name, values in matches.items()}
    metrics = compute_label_metrics(pred_map, ref_map, labels=labels, spacing=ref_volume.spacing_zyx)
    false_pos = np.where((pred_map != ref_map) & (pred_map > 0), pred_map, 0)
    false_neg = np.where((pred_map != ref_map) & (ref_map > 0), ref_map, 0)
    fp_seg = Segmentation(ref_volume.with_array(false_pos.astype(np.uint8 if false_pos.max(initial=0) < 256
                                                                  else np.int32)),
                          {f"{name} FP": value for name, value in labels.items()},
                          {f"{name} FP": FALSE_POSITIVE_COLOR for name in labels})
    fn_seg = Segmentation(ref_volume.with_array(false_neg.astype(fp_seg.labelmap.array.dtype)),
                          {f"{name} FN": value for name, value in labels.items()},
                          {f"{name} FN": FALSE_NEGATIVE_COLOR for name in labels})
    return Comparison(reference_name, prediction_name, metrics, {n: reference.colors[n] for n in labels},
                      fp_seg, fn_seg, ref_map, pred_map)
