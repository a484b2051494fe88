"""``compute_metrics``: every FORMULAS.md metric of one binary pair, in one pass (X10, B10)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from MedSegTrain.errors import MedSegError
from MedSegTrain.metrics.masks import check_pair, check_spacing
from MedSegTrain.metrics.overlap import Confusion, overlap_metrics
from MedSegTrain.metrics.surface import distances_in_box, union_bounding_box

METRIC_NAMES = ("dice", "iou", "precision", "recall", "specificity", "arvd", "hd", "hd95", "msd")


def compute_metrics(
    pred: np.ndarray,
    ref: np.ndarray,
    spacing: float | Sequence[float] | None = None,
    nsd_tolerance: float | None = None,
) -> dict[str, float]:
    """dice, iou, precision, recall, specificity, arvd, hd, hd95, msd (and nsd) of binary masks.

    ``pred`` and ``ref`` are 2D or 3D arrays of the same shape (bool, or numbers that are 0/1).
    ``spacing`` is in ARRAY order ``(z, y, x)`` (or ``(y, x)``), in mm, like MONAI's; reverse
    SimpleITK's ``GetSpacing()``. None means 1 mm. Distances are in mm. ``nsd_tolerance`` (mm)
    adds ``nsd``, the normalised surface distance at that tolerance (Metrics Reloaded's boundary
    metric; MONAI's ``compute_surface_dice``).

    Empty-mask rules (FORMULAS.md): both empty gives dice = iou = 1 and hd = hd95 = msd = 0;
    exactly one empty gives dice = iou = 0 and hd = hd95 = msd = inf; nsd is 1 with both empty and
    0 with exactly one empty; other undefined ratios
    (e.g. precision without positive prediction) are NaN. Raises MedSegError on bad input.
    """
    pred_mask, ref_mask = check_pair(pred, ref)
    spacing_vec = check_spacing(spacing, pred_mask.ndim)
    box = union_bounding_box(pred_mask, ref_mask) or ()
    return metrics_in_box(pred_mask[box], ref_mask[box], spacing_vec, total=pred_mask.size,
                          nsd_tolerance=check_tolerance(nsd_tolerance))


def check_tolerance(nsd_tolerance: float | None) -> float | None:
    """The NSD tolerance in mm as a float; MedSegError unless it is a finite number >= 0."""
    if nsd_tolerance is None:
        return None
    try:
        value = float(nsd_tolerance)
    except (TypeError, ValueError):
        value = math.nan
    if not (0 <= value < math.inf):
        raise MedSegError(f"--nsd-tolerance is a distance in mm: it must be a finite number >= 0, "
                          f"got {nsd_tolerance!r}")
    return value


def metrics_in_box(pred: np.ndarray, ref: np.ndarray, spacing: np.ndarray, total: int,
                   nsd_tolerance: float | None = None) -> dict[str, float]:
    """The metrics of boolean masks cropped to a box that holds all their foreground.

    ``total`` is the voxel count of the uncropped image (for the true negatives); ``nsd`` is
    added when ``nsd_tolerance`` (mm) is given.
    """
    names = METRIC_NAMES if nsd_tolerance is None else (*METRIC_NAMES, "nsd")
    if not (pred.any() or ref.any()):
        metrics = overlap_metrics(Confusion(tp=0, fp=0, fn=0, tn=total))
        metrics.update(hd=0.0, hd95=0.0, msd=0.0)
    else:
        metrics = overlap_metrics(Confusion.from_masks(pred, ref, total=total))
        distances = distances_in_box(pred, ref, spacing)
        metrics.update(hd=distances.hd(), hd95=distances.hd_percentile(95.0), msd=distances.msd())
        if nsd_tolerance is not None:
            metrics["nsd"] = distances.nsd(nsd_tolerance)
    if nsd_tolerance is not None:
        metrics.setdefault("nsd", 1.0)
    return {name: float(metrics[name]) for name in names}
