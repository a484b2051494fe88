"""Slice overlays of image, reference and prediction, with false positives/negatives coloured.

One row per case: the image with the reference (green) and prediction (magenta) outlines, then
the error map (false positives red, false negatives blue) — what a reader wants to see at a
glance. The slice shown is the one with the largest reference area (axial, array axis 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from MedSegTrain.fileutil import atomic_output_file

REFERENCE_COLOUR = "#2ecc40"
PREDICTION_COLOUR = "#f012be"
FALSE_POSITIVE_RGBA = (1.0, 0.15, 0.1, 0.65)
FALSE_NEGATIVE_RGBA = (0.1, 0.45, 1.0, 0.65)


@dataclass
class OverlayCase:
    """One case to draw: arrays ``(z, y, x)``; ``spacing`` in array order for the aspect ratio."""

    case_id: str
    image: np.ndarray
    reference: np.ndarray
    prediction: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    caption: str = ""


def best_slice(reference: np.ndarray, prediction: np.ndarray) -> int:
    """Index of the axial slice with the most reference voxels (prediction if the reference is empty)."""
    for mask in (reference, prediction):
        areas = (mask > 0).reshape(mask.shape[0], -1).sum(axis=1)
        if areas.any():
            return int(np.argmax(areas))
    return reference.shape[0] // 2


def error_rgba(reference: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """RGBA error map: red where a label is predicted wrongly (including a wrong label), blue
    where a reference voxel got no label at all, transparent elsewhere."""
    rgba = np.zeros((*reference.shape, 4))
    rgba[(prediction > 0) & (prediction != reference)] = FALSE_POSITIVE_RGBA
    rgba[(reference > 0) & (prediction == 0)] = FALSE_NEGATIVE_RGBA
    return rgba


def _display_range(image: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(image, [0.5, 99.5])
    return float(low), float(high if high > low else low + 1.0)


def save_overlay_figure(cases: list[OverlayCase], path: Path, title: str = "") -> Path:
    """Draw ``cases`` (one row each) into a PNG at ``path`` (written atomically)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows = max(len(cases), 1)
    fig, axes = plt.subplots(rows, 2, figsize=(8.0, 3.8 * rows), squeeze=False)
    for row, case in zip(axes, cases, strict=False):
        index = best_slice(case.reference, case.prediction)
        image = case.image[index]
        ref = case.reference[index]
        pred = case.prediction[index]
        aspect = case.spacing[1] / case.spacing[2]
        low, high = _display_range(case.image)
        for ax in row:
            ax.imshow(image, cmap="gray", vmin=low, vmax=high, aspect=aspect, interpolation="nearest")
            ax.set_axis_off()
        for value in np.unique(ref[ref > 0]):
            row[0].contour(ref == value, levels=[0.5], colors=REFERENCE_COLOUR, linewidths=1.4)
        for value in np.unique(pred[pred > 0]):
            row[0].contour(pred == value, levels=[0.5], colors=PREDICTION_COLOUR, linewidths=1.1,
                           linestyles="dashed")
        row[1].imshow(error_rgba(ref, pred), aspect=aspect, interpolation="nearest")
        row[0].set_title(f"{case.case_id} (slice {index})  {case.caption}".strip(), fontsize=9)
        row[1].set_title("errors: false positive / false negative", fontsize=9)
    handles = [Line2D([], [], color=REFERENCE_COLOUR, label="reference"),
               Line2D([], [], color=PREDICTION_COLOUR, linestyle="dashed", label="prediction"),
               Patch(color=FALSE_POSITIVE_RGBA, label="false positive"),
               Patch(color=FALSE_NEGATIVE_RGBA, label="false negative")]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97 if title else 1))
    with atomic_output_file(Path(path)) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return Path(path)
