"""``compute_metrics``: every FORMULAS.md metric of one binary pair, in one pass (X10, B10)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from MedSegTrain.metrics.masks import check_pair, check_spacing
from MedSegTrain.metrics.overlap import Confusion, overlap_metrics
from MedSegTrain.metrics.surface import distances_in_box, union_bounding_box

METRIC_NAMES = ("dice", "iou", "precision", "recall", "specificity", "arvd", "hd", "hd95", "msd")


def compute_metrics(
    pred: np.ndarray, ref: np.ndarray, spacing: float | Sequence[float] | None = None
) -> dict[str, float]:
    """dice, iou, precision, recall, specificity, arvd, hd, hd95, msd of binary masks.

    ``pred`` and ``ref`` are 2D or 3D arrays of the same shape (bool, or numbers that are 0/1).
    ``spacing`` is in ARRAY order ``(z, y, x)`` (or ``(y, x)``), in mm, like MONAI's; reverse
    SimpleITK's ``GetSpacing()``. None means 1 mm. Distances are in mm.

    Empty-mask rules (FORMULAS.md): both empty gives dice = iou = 1 and hd = hd95 = msd = 0;
    exactly one empty gives dice = iou = 0 and hd = hd95 = msd = inf; other undefined ratios
    (e.g. precision without positive prediction) are NaN. Raises MedSegError on bad input.
    """
    pred_mask, ref_mask = check_pair(pred, ref)
    spacing_vec = check_spacing(spacing, pred_mask.ndim)
    box = union_bounding_box(pred_mask, ref_mask)
    if box is None:
        metrics = overlap_metrics(Confusion(tp=0, fp=0, fn=0, tn=pred_mask.size))
        metrics.update(hd=0.0, hd95=0.0, msd=0.0)
        return metrics
    pred_box, ref_box = pred_mask[box], ref_mask[box]
    metrics = overlap_metrics(Confusion.from_masks(pred_box, ref_box, total=pred_mask.size))
    distances = distances_in_box(pred_box, ref_box, spacing_vec)
    metrics.update(hd=distances.hd(), hd95=distances.hd_percentile(95.0), msd=distances.msd())
    return {name: float(metrics[name]) for name in METRIC_NAMES}


def empty_metrics() -> dict[str, float]:
    """A result with every metric NaN (for a case that could not be evaluated)."""
    return dict.fromkeys(METRIC_NAMES, math.nan)
