"""Hand-written parts of the data layer against their library peers, same run (numpy/scipy, one thread).

Run: ``python -m pytest Testing/benchmarks/bench_phantoms.py -m benchmark -s``

* ``smooth_field`` (white noise on nodes one feature apart, summed through separable Gaussian
  kernels) vs ``scipy.ndimage.gaussian_filter`` of full-resolution white noise (the textbook way,
  same correlation length) and vs ``scipy.ndimage.zoom(order=3)`` of coarse noise. Correctness:
  the autocorrelation at 5/10/20 mm must match the Gaussian-filter peer.
* label value scan in ``validate_dataset`` (``np.bincount``) vs ``np.unique``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import pytest
from scipy import ndimage

from MedSegTrain.data.phantom_shapes import Grid, smooth_field
from MedSegTrain.data.validate import _present_values

pytestmark = pytest.mark.benchmark

GRID = Grid((28, 80, 80), (1.0, 1.0, 3.0))  # a phantom case
SCALE_MM = 15.0


def _best_of(fn: Callable[[], object], repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _gaussian_peer(rng: np.random.Generator) -> np.ndarray:
    sigma = [0.6 * SCALE_MM / s for s in GRID.spacing_zyx]
    field = ndimage.gaussian_filter(rng.standard_normal(GRID.shape).astype(np.float32), sigma, mode="wrap")
    return (field - field.mean()) / field.std()


def _zoom_peer(rng: np.random.Generator) -> np.ndarray:
    coarse_shape = tuple(max(3, math.ceil(e / SCALE_MM) + 2) for e in GRID.extent_zyx)
    coarse = rng.standard_normal(coarse_shape).astype(np.float32)
    zoom = [n / c for n, c in zip(GRID.shape, coarse_shape, strict=True)]
    return ndimage.zoom(coarse, zoom, order=3, mode="grid-mirror", grid_mode=True)


def _autocorrelation_x(field: np.ndarray, lag_voxels: int) -> float:
    a, b = field[:, :, :-lag_voxels].ravel(), field[:, :, lag_voxels:].ravel()
    return float(np.corrcoef(a, b)[0, 1])


def test_smooth_field_vs_scipy() -> None:
    rng = np.random.default_rng(0)
    ours = _best_of(lambda: smooth_field(GRID, rng, SCALE_MM))
    gaussian = _best_of(lambda: _gaussian_peer(rng))
    zoom = _best_of(lambda: _zoom_peer(rng))
    print(f"\nsmooth field {GRID.shape} voxels, {SCALE_MM} mm features (best of 7):")
    print(f"  MedSegTrain smooth_field      {ours * 1e3:8.2f} ms")
    print(f"  scipy gaussian_filter(noise)  {gaussian * 1e3:8.2f} ms  ratio {gaussian / ours:6.1f}x")
    print(f"  scipy zoom(order=3)           {zoom * 1e3:8.2f} ms  ratio {zoom / ours:6.1f}x")
    for lag_mm in (5, 10, 20):
        lag = int(lag_mm / GRID.spacing[0])
        mine = np.mean([_autocorrelation_x(smooth_field(GRID, np.random.default_rng(s), SCALE_MM), lag)
                        for s in range(20)])
        peer = np.mean([_autocorrelation_x(_gaussian_peer(np.random.default_rng(s)), lag) for s in range(20)])
        theory = math.exp(-(lag_mm ** 2) / (4 * (0.6 * SCALE_MM) ** 2))
        print(f"  autocorrelation at {lag_mm:2d} mm: ours {mine:.3f}, gaussian_filter {peer:.3f}, "
              f"theory {theory:.3f}")
        assert abs(mine - peer) < 0.1
    assert ours < gaussian and ours < zoom


def test_label_value_scan_vs_unique() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, size=(200, 512, 512), dtype=np.uint8)
    ours = _best_of(lambda: _present_values(labels), repeats=3)
    unique = _best_of(lambda: np.unique(labels), repeats=3)
    print(f"\nlabel values of a {labels.shape} uint8 map: bincount {ours * 1e3:.1f} ms, "
          f"np.unique {unique * 1e3:.1f} ms, ratio {unique / ours:.1f}x")
    assert _present_values(labels) == np.unique(labels).tolist()
    assert ours < unique
