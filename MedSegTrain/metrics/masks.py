"""Input checks shared by the metric functions: binary masks, matching shapes, spacing.

Metrics accept numpy arrays (2D or 3D) in array order ``(z, y, x)`` / ``(y, x)``; spacing is
given in the same array order, like MONAI's ``spacing`` argument (note: SimpleITK's
``GetSpacing()`` is ``(x, y, z)`` and must be reversed).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from MedSegTrain.errors import MedSegError


def as_binary_mask(array: np.ndarray, name: str) -> np.ndarray:
    """``array`` as a boolean mask; bool arrays pass unchanged, others must hold only 0 and 1."""
    array = np.asarray(array)
    if array.dtype == bool:
        return array
    if array.dtype.kind not in "biuf":
        raise MedSegError(f"{name}: expected a binary mask of numbers, got dtype {array.dtype}")
    mask = array != 0
    if array.size and not np.all((array == 1) | ~mask):
        raise MedSegError(
            f"{name}: not a binary mask (values other than 0 and 1); "
            "use compute_label_metrics for label maps or threshold probabilities first"
        )
    return mask


def check_pair(pred: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both masks as booleans of the same 2D or 3D shape."""
    pred_mask = as_binary_mask(pred, "prediction")
    ref_mask = as_binary_mask(ref, "reference")
    if pred_mask.shape != ref_mask.shape:
        raise MedSegError(
            f"prediction shape {pred_mask.shape} differs from reference shape {ref_mask.shape}"
        )
    if pred_mask.ndim not in (2, 3):
        raise MedSegError(f"masks must be 2D or 3D arrays, got {pred_mask.ndim} dimensions")
    return pred_mask, ref_mask


def check_spacing(spacing: float | Sequence[float] | np.ndarray | None, ndim: int) -> np.ndarray:
    """Spacing as a float64 vector of length ``ndim`` (array order); None means 1 mm."""
    if spacing is None:
        return np.ones(ndim)
    try:
        values = np.atleast_1d(np.asarray(spacing, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise MedSegError(f"spacing {spacing!r} is not a number or a sequence of numbers") from exc
    if values.ndim != 1 or values.size not in (1, ndim):
        raise MedSegError(
            f"spacing {tuple(np.ravel(values))} must have one value or {ndim} values (array order)"
        )
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise MedSegError(f"spacing {tuple(values)} must be positive and finite")
    return np.broadcast_to(values, (ndim,)).copy()
