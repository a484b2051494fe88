"""Per-voxel uncertainty of an ensemble: predictive entropy and variance across predictions.

* ``entropy``: the entropy of the averaged probabilities, normalised to [0, 1] by its maximum —
  ``-sum_k p_k log p_k / log K`` for softmax, and for sigmoid outputs the mean over channels of
  the binary entropy ``-(p log p + (1-p) log(1-p)) / log 2``.
* ``variance``: the variance of each channel's probability across every prediction that
  contributed to the voxel (members x TTA variants, and overlapping windows with their Gaussian
  weights), averaged over channels; ``E[p²] - E[p]²`` from two accumulators, so memory does not
  grow with members x variants.
"""

from __future__ import annotations

import numpy as np

from MedSegTrain.errors import MedSegError

MEASURES = ("entropy", "variance")


def entropy_map(probabilities: np.ndarray, activation: str) -> np.ndarray:
    """Normalised predictive entropy ``(z, y, x)`` in [0, 1] from probabilities ``(K, z, y, x)``."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0)
    if activation == "softmax":
        k = p.shape[0]
        if k < 2:
            return np.zeros(p.shape[1:], dtype=np.float32)
        h = -np.sum(_xlogx(p), axis=0) / np.log(k)
    elif activation == "sigmoid":
        h = -np.mean(_xlogx(p) + _xlogx(1.0 - p), axis=0) / np.log(2.0)
    else:
        raise MedSegError(f"output activation must be 'softmax' or 'sigmoid', got {activation!r}")
    return np.clip(h, 0.0, 1.0).astype(np.float32)


def variance_map(mean: np.ndarray, second_moment: np.ndarray) -> np.ndarray:
    """Channel-averaged variance ``(z, y, x)`` from ``E[p]`` and ``E[p²]`` ``(K, z, y, x)``."""
    var = np.asarray(second_moment, dtype=np.float64) - np.square(np.asarray(mean, dtype=np.float64))
    return np.clip(var, 0.0, None).mean(axis=0).astype(np.float32)


def check_measure(measure: str | None) -> str | None:
    """Validate an uncertainty measure name (None: no uncertainty)."""
    if measure is not None and measure not in MEASURES:
        raise MedSegError(f"--uncertainty-measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    return measure


def _xlogx(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
