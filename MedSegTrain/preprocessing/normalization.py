"""Intensity normalisations of one channel (X6, B5, C2, T6).

* ``zscore`` — per volume, all voxels (X6, L4).
* ``zscore-nonzero`` — statistics of the non-zero voxels; zero voxels stay 0 (B5 pipeline B).
* ``percentile-minmax`` — clip to the 1st/99th percentile of the non-zero voxels, then min-max to
  [0, 1]; zero voxels stay 0 (B5 pipeline A).
* ``minmax`` — min-max of all voxels to [0, 1].
* ``fixed-zscore`` — (x - mean) / std with given statistics: a dataset-level sample (C2) or the
  training set's mean and sd (T6), see :mod:`MedSegTrain.preprocessing.statistics`.
* ``none`` — float32 copy.

All functions return a new float32 array and never modify their input. Statistics are
accumulated in float64 so large int16 CT volumes do not lose precision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from MedSegTrain.errors import MedSegError
from MedSegTrain.preprocessing.windowing import percentiles

NORMALIZATIONS = ("none", "zscore", "zscore-nonzero", "percentile-minmax", "minmax", "fixed-zscore")
_EPS = 1e-8


def zscore(array: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(x - mean) / sd with statistics over ``mask`` (all voxels when None).

    With a mask, voxels outside it are set to 0. A constant region gives 0 instead of dividing
    by zero.
    """
    data = np.asarray(array)
    values = data if mask is None else data[mask]
    if values.size == 0:
        return np.zeros(data.shape, np.float32)
    mean = float(values.mean(dtype=np.float64))
    std = float(values.std(dtype=np.float64))
    out = _affine(data, mean, std)
    if mask is not None:
        out[~mask] = 0.0
    return out


def zscore_nonzero(array: np.ndarray) -> np.ndarray:
    """Z-score over the non-zero voxels; background (exactly 0) stays 0 (B5, pipeline B)."""
    data = np.asarray(array)
    return zscore(data, data != 0)


def minmax(array: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Scale to [0, 1] by the (masked) min and max; outside the mask 0; constant input gives 0."""
    data = np.asarray(array)
    values = data if mask is None else data[mask]
    out = np.zeros(data.shape, np.float32)
    if values.size == 0:
        return out
    low, high = float(values.min()), float(values.max())
    scale = high - low
    if scale <= 0:
        return out
    out = data.astype(np.float32, copy=True)
    out -= np.float32(low)
    out *= np.float32(1.0 / scale)
    if mask is not None:
        out[~mask] = 0.0
    return out


def percentile_minmax(
    array: np.ndarray, lower: float = 1.0, upper: float = 99.0, nonzero: bool = True
) -> np.ndarray:
    """Clip to the [lower, upper] percentiles (of non-zero voxels), then min-max to [0, 1] (B5, A).

    With ``nonzero`` the background stays 0, which is what clipping the whole image and
    min-maxing it gives (background is clipped to the low bound, which maps to 0).
    """
    data = np.asarray(array)
    mask = data != 0 if nonzero else None
    values = data[mask] if nonzero else data.reshape(-1)
    if values.size == 0:
        return np.zeros(data.shape, np.float32)
    low, high = percentiles(values, (lower, upper))
    scale = high - low
    if scale <= 0:
        return np.zeros(data.shape, np.float32)
    out = data.astype(np.float32, copy=True)
    np.clip(out, low, high, out=out)
    out -= np.float32(low)
    out *= np.float32(1.0 / scale)
    if mask is not None:
        out[~mask] = 0.0
    return out


def fixed_zscore(array: np.ndarray, mean: float, std: float) -> np.ndarray:
    """(x - mean) / std with statistics computed elsewhere (dataset sample C2, training set T6)."""
    if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
        raise MedSegError(f"fixed-zscore: needs a finite mean and a positive std, got mean={mean}, std={std}")
    return _affine(np.asarray(array), float(mean), float(std))


def normalize(
    array: np.ndarray, method: str, params: Mapping[str, Any] | None = None, channel: int = 0
) -> np.ndarray:
    """Apply the normalisation called ``method`` to one channel.

    ``params`` holds the method's options: ``lower``/``upper`` for ``percentile-minmax``;
    ``mean``/``std`` (a number, or one per channel picked by ``channel``) for ``fixed-zscore``.
    """
    params = dict(params or {})
    check_normalization(method, params)
    if method == "none":
        return np.asarray(array).astype(np.float32, copy=True)
    if method == "zscore":
        return zscore(array)
    if method == "zscore-nonzero":
        return zscore_nonzero(array)
    if method == "minmax":
        return minmax(array)
    if method == "percentile-minmax":
        return percentile_minmax(
            array, params.get("lower", 1.0), params.get("upper", 99.0), params.get("nonzero", True)
        )
    mean = _per_channel(params["mean"], channel, "norm_params.mean")
    std = _per_channel(params["std"], channel, "norm_params.std")
    return fixed_zscore(array, mean, std)


def check_normalization(method: Any, params: Mapping[str, Any], where: str = "normalization") -> None:
    """Raise :class:`MedSegError` naming the option when ``method``/``params`` are invalid."""
    if method not in NORMALIZATIONS:
        raise MedSegError(f"{where}: {method!r} is not one of {', '.join(NORMALIZATIONS)}")
    allowed = {
        "percentile-minmax": {"lower", "upper", "nonzero"},
        "fixed-zscore": {"mean", "std", "source"},
    }.get(method, set())
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise MedSegError(
            f"norm_params: {', '.join(unknown)} not used by normalization {method!r}"
            + (f" (allowed: {', '.join(sorted(allowed))})" if allowed else "")
        )
    if method == "percentile-minmax":
        lower, upper = params.get("lower", 1.0), params.get("upper", 99.0)
        for name, value in (("lower", lower), ("upper", upper)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                raise MedSegError(f"norm_params.{name}: needs a percentile in 0..100, got {value!r}")
        if not upper > lower:
            raise MedSegError(f"norm_params.upper: must be greater than lower ({upper} <= {lower})")
        if not isinstance(params.get("nonzero", True), bool):
            raise MedSegError(f"norm_params.nonzero: expected true/false, got {params['nonzero']!r}")
    if method == "fixed-zscore":
        for name in ("mean", "std"):
            if name not in params:
                raise MedSegError(f"norm_params.{name}: required by normalization 'fixed-zscore'")
            values = params[name] if isinstance(params[name], (list, tuple)) else [params[name]]
            if not values:
                raise MedSegError(f"norm_params.{name}: must not be empty")
            for value in values:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise MedSegError(f"norm_params.{name}: expected finite numbers, got {params[name]!r}")
                if name == "std" and value <= 0:
                    raise MedSegError(f"norm_params.std: must be > 0, got {params[name]!r}")


def _per_channel(value: Any, channel: int, where: str) -> float:
    if isinstance(value, (list, tuple)):
        if channel >= len(value):
            raise MedSegError(f"{where}: has {len(value)} value(s) but channel {channel} was requested")
        return float(value[channel])
    return float(value)


def _affine(data: np.ndarray, mean: float, std: float) -> np.ndarray:
    scale = 1.0 / std if std > _EPS else 0.0
    out = data.astype(np.float32, copy=True)
    out -= np.float32(mean)
    out *= np.float32(scale)
    return out
