"""Phantom building blocks against closed forms: ellipsoid radius, Rician moments, field statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from MedSegTrain.data.phantom_shapes import (
    Grid,
    bias_field,
    deformed,
    ellipsoid_radius,
    partial_volume,
    rician,
    smooth_field,
)

GRID = Grid((20, 40, 50), (1.0, 1.0, 2.0))


def test_grid_coordinates_are_centred_in_mm() -> None:
    x, y, z = GRID.coords()
    assert x.shape == (1, 1, 50) and y.shape == (1, 40, 1) and z.shape == (20, 1, 1)
    assert x[0, 0, 0] == pytest.approx(-24.5) and x[0, 0, -1] == pytest.approx(24.5)
    assert z[0, 0, 0] == pytest.approx(-19.0) and z[-1, 0, 0] == pytest.approx(19.0)


def test_ellipsoid_radius_closed_form() -> None:
    coords = GRID.coords()
    radius = ellipsoid_radius(coords, (0.5, 0.5, 1.0), (10.0, 5.0, 8.0))
    x, y, z = (np.broadcast_to(c, GRID.shape) for c in coords)
    expected = np.sqrt(((x - 0.5) / 10) ** 2 + ((y - 0.5) / 5) ** 2 + ((z - 1.0) / 8) ** 2)
    np.testing.assert_allclose(radius, expected, rtol=1e-5)
    turned = ellipsoid_radius(coords, (0, 0, 0), (10.0, 5.0, 8.0), angle=math.pi / 2)
    # a quarter turn swaps the in-plane axes: the long (10 mm) axis now runs along y
    np.testing.assert_allclose(turned, np.sqrt((y / 10) ** 2 + (x / 5) ** 2 + (z / 8) ** 2), rtol=1e-5)
    inside = (turned < 1).sum()
    volume_mm3 = inside * 1.0 * 1.0 * 2.0
    assert volume_mm3 == pytest.approx(4 / 3 * math.pi * 10 * 5 * 8, rel=0.05)


def test_smooth_field_statistics_and_smoothness() -> None:
    field = smooth_field(GRID, np.random.default_rng(0), scale_mm=10.0)
    assert field.shape == GRID.shape and field.dtype == np.float32
    assert abs(float(field.mean())) < 1e-5 and float(field.std()) == pytest.approx(1.0, abs=1e-4)
    neighbour = np.corrcoef(field[:, :, :-1].ravel(), field[:, :, 1:].ravel())[0, 1]
    assert neighbour > 0.95  # 1 mm apart, features 10 mm wide
    far = np.corrcoef(field[:, :, :-30].ravel(), field[:, :, 30:].ravel())[0, 1]
    assert abs(far) < 0.5
    again = smooth_field(GRID, np.random.default_rng(0), scale_mm=10.0)
    np.testing.assert_array_equal(field, again)


def test_deformed_surface_stays_near_the_ellipsoid() -> None:
    coords = GRID.coords()
    radius = ellipsoid_radius(coords, (0, 0, 0), (12.0, 10.0, 10.0))
    field = smooth_field(GRID, np.random.default_rng(1), 8.0)
    mask = deformed(radius, field, 0.1)
    assert (radius < 0.6).sum() == (mask & (radius < 0.6)).sum()  # core always inside
    assert not (mask & (radius > 1.6)).any()
    assert mask.sum() == pytest.approx((radius < 1).sum(), rel=0.3)


def test_rician_noise_matches_the_rice_distribution() -> None:
    rng = np.random.default_rng(2)
    sigma = 10.0
    for signal in (0.0, 15.0, 100.0):
        samples = rician(np.full(200_000, signal, np.float32), sigma, rng)
        expected = stats.rice(b=signal / sigma, scale=sigma)
        assert samples.min() >= 0
        assert float(samples.mean()) == pytest.approx(expected.mean(), rel=0.01)
        assert float(samples.std()) == pytest.approx(expected.std(), rel=0.02)


def test_bias_field_is_positive_smooth_and_of_the_asked_strength() -> None:
    field = bias_field(GRID, np.random.default_rng(3), strength=0.2)
    assert field.min() > 0
    assert float(np.log(field).std()) == pytest.approx(0.2, rel=1e-3)


def test_partial_volume_blur_has_the_requested_fwhm() -> None:
    grid = Grid((1, 1, 201), (0.5, 1.0, 1.0))
    impulse = np.zeros(grid.shape, np.float32)
    impulse[0, 0, 100] = 1.0
    profile = partial_volume(impulse, grid, (3.0, 0.0001, 0.0001))[0, 0]
    above = np.flatnonzero(profile >= profile.max() / 2)
    fwhm_mm = (above[-1] - above[0] + 1) * 0.5
    assert fwhm_mm == pytest.approx(3.0, abs=0.5)
