"""Segmentation metrics exactly as ``FORMULAS.md`` (numpy/scipy only: the Slicer compare panel uses it).

* :func:`compute_metrics` — one binary pair: dice, iou, precision, recall, specificity, arvd,
  hd, hd95, msd (spacing in array order ``(z, y, x)``, like MONAI).
* :func:`compute_label_metrics` — label maps: per label and per (overlapping) region.
* :func:`msd_2d` — the mixup paper's in-slice mean surface distance.
* :func:`expected_calibration_error`, :func:`brier_score` — calibration of probability maps.
* ``MedSegTrain.metrics.aggregate`` — mean, sd, median, 95 % CI over cases; table, CSV, JSON.

Definitions, conventions and the benchmark against MONAI / surface-distance: ``docs/metrics.md``.
"""

from MedSegTrain.metrics.binary import METRIC_NAMES, compute_metrics
from MedSegTrain.metrics.calibration import brier_score, expected_calibration_error, reliability_curve
from MedSegTrain.metrics.labels import compute_label_metrics, parse_labels, parse_regions
from MedSegTrain.metrics.slice2d import msd_2d
from MedSegTrain.metrics.surface import SurfaceDistances, mask_surface, surface_distances

__all__ = [
    "METRIC_NAMES",
    "SurfaceDistances",
    "brier_score",
    "compute_label_metrics",
    "compute_metrics",
    "expected_calibration_error",
    "mask_surface",
    "msd_2d",
    "parse_labels",
    "parse_regions",
    "reliability_curve",
    "surface_distances",
]
