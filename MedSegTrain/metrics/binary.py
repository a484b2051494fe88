"""``compute_metrics``: every FORMULAS.md metric of one binary pair, in one pass (X10, B10)."""

from __future__ import annotations

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
    box = union_bounding_box(pred_mask, ref_mask) or ()
    return metrics_in_box(pred_mask[box], ref_mask[box], spacing_vec, total=pred_mask.size)


def metrics_in_box(pred: np.ndarray, ref: np.ndarray, spacing: np.ndarray, total: int) -> dict[str, float]:
    """The metrics of boolean masks cropped to a box that holds all their foreground.

    ``total`` is the voxel count of the uncropped image (for the true negatives).
    """
    if not (pred.any() or ref.any()):
        metrics = overlap_metrics(Confusion(tp=0, fp=0, fn=0, tn=total))
        metrics.update(hd=0.0, hd95=0.0, msd=0.0)
        return metrics
    metrics = overlap_metrics(Confusion.from_masks(pred, ref, total=total))
    distances = distances_in_box(pred, ref, spacing)
    metrics.update(hd=distances.hd(), hd95=distances.hd_percentile(95.0), msd=distances.msd())
    return {name: float(metrics[name]) for name in METRIC_NAMES}
