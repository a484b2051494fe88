"""Calibration of probability maps: expected calibration error and Brier score.

The mixup literature claims better-calibrated outputs; these measure it voxel-wise.
``prob`` is either a foreground probability map of the reference's shape (binary) or class
probabilities ``(K, *ref.shape)`` with an integer reference (values 0..K-1). An optional boolean
``mask`` restricts the voxels (e.g. a body mask, so that easy air does not dominate).
"""

from __future__ import annotations

import numpy as np

from MedSegTrain.errors import MedSegError


def expected_calibration_error(
    prob: np.ndarray, ref: np.ndarray, n_bins: int = 15, mask: np.ndarray | None = None
) -> float:
    """ECE = sum_b (n_b / N) |accuracy_b - confidence_b| over equal-width confidence bins.

    Confidence is the top class probability, accuracy whether the top class equals the
    reference (Guo et al. 2017); bin b holds confidences in ((b-1)/M, b/M], 15 bins by default.
    """
    confidence, correct = _confidence_and_correct(prob, ref, mask)
    if confidence.size == 0:
        raise MedSegError("calibration: no voxels to evaluate (empty mask)")
    _, conf_sums, correct_sums = _binned(confidence, correct, n_bins)
    return float(np.sum(np.abs(correct_sums - conf_sums)) / confidence.size)


def reliability_curve(
    prob: np.ndarray, ref: np.ndarray, n_bins: int = 15, mask: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per bin: ``count``, mean ``confidence`` and ``accuracy`` (NaN for empty bins), ``edges``."""
    confidence, correct = _confidence_and_correct(prob, ref, mask)
    counts, conf_sums, correct_sums = _binned(confidence, correct, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "edges": np.linspace(0.0, 1.0, n_bins + 1),
            "count": counts,
            "confidence": np.where(counts > 0, conf_sums / counts, np.nan),
            "accuracy": np.where(counts > 0, correct_sums / counts, np.nan),
        }


def brier_score(prob: np.ndarray, ref: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean over voxels of the squared error of the probabilities.

    Binary input: mean (p - g)^2. Class probabilities: mean over voxels of sum_k (p_k - g_k)^2
    with g the one-hot reference (twice the binary value for K = 2).
    """
    prob, ref, mask = _check(prob, ref, mask)
    if prob.ndim == ref.ndim:
        errors = (prob - ref) ** 2
    else:
        onehot = ref[None] == np.arange(prob.shape[0]).reshape((-1,) + (1,) * ref.ndim)
        errors = np.sum((prob - onehot) ** 2, axis=0)
    selected = errors if mask is None else errors[mask]
    if selected.size == 0:
        raise MedSegError("calibration: no voxels to evaluate (empty mask)")
    return float(selected.mean())


def _check(
    prob: np.ndarray, ref: np.ndarray, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    prob = np.asarray(prob)
    if prob.dtype.kind != "f":  # float32 maps stay float32: a (K, z, y, x) CT map is large
        prob = prob.astype(np.float64)
    ref = np.asarray(ref)
    if ref.dtype.kind not in "biu":
        raise MedSegError(f"calibration: reference must be an integer or boolean map, got {ref.dtype}")
    if prob.shape != ref.shape and prob.shape[1:] != ref.shape:
        raise MedSegError(
            f"calibration: probabilities {prob.shape} must have the reference shape {ref.shape} "
            "or (K, *reference shape)"
        )
    if prob.size and (not np.all(np.isfinite(prob)) or prob.min() < 0 or prob.max() > 1):
        raise MedSegError("calibration: probabilities must lie in [0, 1]")
    if prob.ndim == ref.ndim:
        if ref.size and ref.max() > 1:
            raise MedSegError("calibration: a binary probability map needs a 0/1 reference")
    else:
        if not np.allclose(prob.sum(axis=0), 1.0, atol=1e-3):
            raise MedSegError("calibration: class probabilities must sum to 1 over the first axis")
        if ref.size and ref.max() >= prob.shape[0]:
            raise MedSegError(f"calibration: reference holds class {ref.max()} but only "
                              f"{prob.shape[0]} probability channels were given")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != ref.shape:
            raise MedSegError(f"calibration: mask shape {mask.shape} differs from reference {ref.shape}")
    return prob, ref.astype(np.int64), mask


def _confidence_and_correct(
    prob: np.ndarray, ref: np.ndarray, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    prob, ref, mask = _check(prob, ref, mask)
    if prob.ndim == ref.ndim:
        predicted = (prob >= 0.5).astype(np.int64)
        confidence = np.where(predicted == 1, prob, 1.0 - prob)
    else:
        predicted = np.argmax(prob, axis=0)
        confidence = np.max(prob, axis=0)
    correct = predicted == ref
    if mask is not None:
        return confidence[mask], correct[mask]
    return confidence.ravel(), correct.ravel()


def _binned(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if int(n_bins) != n_bins or n_bins < 1:
        raise MedSegError(f"calibration: n_bins must be a positive integer, got {n_bins}")
    n_bins = int(n_bins)
    index = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    conf_sums = np.bincount(index, weights=confidence, minlength=n_bins)
    correct_sums = np.bincount(index, weights=correct.astype(np.float64), minlength=n_bins)
    return counts, conf_sums, correct_sums
