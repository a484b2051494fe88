"""Building blocks of the phantoms: physical grids, smooth random fields, deformed ellipsoids,
MR bias fields and Rician noise. Everything takes a ``numpy.random.Generator``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class Grid:
    """A voxel grid: ``shape`` in array order ``(z, y, x)``, ``spacing`` in ``(x, y, z)`` mm."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]

    @property
    def spacing_zyx(self) -> tuple[float, float, float]:
        """Spacing in array order."""
        return (self.spacing[2], self.spacing[1], self.spacing[0])

    @property
    def extent_zyx(self) -> tuple[float, float, float]:
        """Size of the grid in mm, array order."""
        return tuple(n * s for n, s in zip(self.shape, self.spacing_zyx, strict=True))  # type: ignore[return-value]

    def coords(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Broadcastable ``(x, y, z)`` voxel-centre coordinates in mm, the grid centre at 0."""
        axes = [((np.arange(n, dtype=np.float32) - (n - 1) / 2) * s)
                for n, s in zip(self.shape, self.spacing_zyx, strict=True)]
        z = axes[0][:, None, None]
        y = axes[1][None, :, None]
        x = axes[2][None, None, :]
        return x, y, z


def smooth_field(grid: Grid, rng: np.random.Generator, scale_mm: float) -> np.ndarray:
    """A smooth random field of unit standard deviation, with features about ``scale_mm`` wide.

    White noise on nodes ``scale_mm`` apart (with a margin), summed through separable Gaussian
    kernels onto the voxel centres: the same statistics as Gaussian-filtered noise at a fraction
    of the cost of a wide filter or a spline zoom.
    """
    weights = [_gaussian_weights(n, s, scale_mm) for n, s in zip(grid.shape, grid.spacing_zyx, strict=True)]
    coarse = rng.standard_normal(tuple(w.shape[1] for w in weights)).astype(np.float32)
    field = np.einsum("xk,ijk->ijx", weights[2], coarse)
    field = np.einsum("yj,ijx->iyx", weights[1], field)
    field = np.einsum("zi,iyx->zyx", weights[0], field)
    field -= field.mean()
    std = float(field.std())
    return field / std if std > 0 else field


def _gaussian_weights(n: int, spacing: float, scale_mm: float) -> np.ndarray:
    """``(n, nodes)`` Gaussian weights (sigma ``0.6 * scale``) from nodes to voxel centres."""
    positions = (np.arange(n) - (n - 1) / 2) * spacing
    half = (n - 1) / 2 * spacing + 2 * scale_mm
    nodes = np.arange(-half, half + scale_mm, scale_mm)
    sigma = 0.6 * scale_mm
    return np.exp(-0.5 * ((positions[:, None] - nodes[None, :]) / sigma) ** 2).astype(np.float32)


def ellipsoid_radius(coords: tuple[np.ndarray, np.ndarray, np.ndarray], centre: tuple[float, float, float],
                     radii: tuple[float, float, float], angle: float = 0.0) -> np.ndarray:
    """Normalised ellipsoid radius (< 1 inside) at ``centre`` (x, y, z mm), turned in-plane by ``angle``."""
    x, y, z = coords
    dx, dy, dz = x - centre[0], y - centre[1], z - centre[2]
    cos, sin = math.cos(angle), math.sin(angle)
    u = (cos * dx + sin * dy) / radii[0]
    v = (-sin * dx + cos * dy) / radii[1]
    w = dz / radii[2]
    return np.sqrt(u * u + v * v + w * w).astype(np.float32)


def deformed(radius: np.ndarray, field: np.ndarray, amplitude: float, level: float = 1.0) -> np.ndarray:
    """Inside of a smoothly deformed surface: ``radius < level * (1 + amplitude * field)``."""
    return radius < level * (1.0 + amplitude * field)


def bias_field(grid: Grid, rng: np.random.Generator, strength: float = 0.2) -> np.ndarray:
    """A smooth multiplicative MR bias field ``exp(strength * field)`` (features ~ the field of view)."""
    scale = max(grid.extent_zyx[1:]) * 0.6
    return np.exp(strength * smooth_field(grid, rng, scale)).astype(np.float32)


def rician(signal: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude MR noise: ``sqrt((s + n1)^2 + n2^2)`` with ``n1, n2 ~ N(0, sigma^2)``."""
    real = signal + rng.normal(0.0, sigma, signal.shape).astype(np.float32)
    imaginary = rng.normal(0.0, sigma, signal.shape).astype(np.float32)
    return np.sqrt(real * real + imaginary * imaginary)


def partial_volume(image: np.ndarray, grid: Grid, fwhm_mm: tuple[float, float, float]) -> np.ndarray:
    """Blur by the scanner's point spread (FWHM per axis in ``(x, y, z)`` mm) for soft edges."""
    sigma = [f / 2.355 / s for f, s in zip(fwhm_mm[::-1], grid.spacing_zyx, strict=True)]
    return ndimage.gaussian_filter(image, sigma, mode="nearest", truncate=2.5)
