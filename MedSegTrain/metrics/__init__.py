"""Segmentation metrics exactly as ``FORMULAS.md`` (numpy/scipy only: the Slicer compare panel uses it).

* :func:`compute_metrics` — one binary pair: dice, iou, precision, recall, specificity, arvd,
  hd, hd95, msd (spacing in array order ``(z, y, x)``, like MONAI).
"""

from MedSegTrain.metrics.binary import METRIC_NAMES, compute_metrics
from MedSegTrain.metrics.surface import SurfaceDistances, mask_surface, surface_distances

__all__ = ["METRIC_NAMES", "SurfaceDistances", "compute_metrics", "mask_surface", "surface_distances"]
