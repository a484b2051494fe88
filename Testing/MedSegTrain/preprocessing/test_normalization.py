"""Normalisations (X6, B5, C2, T6) against hand formulas and MONAI's intensity transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.transforms import NormalizeIntensity, ScaleIntensity, ScaleIntensityRangePercentiles

from MedSegTrain.errors import MedSegError
from MedSegTrain.preprocessing.normalization import (
    fixed_zscore,
    minmax,
    normalize,
    percentile_minmax,
    zscore,
    zscore_nonzero,
)


@pytest.fixture
def brain() -> np.ndarray:
    rng = np.random.default_rng(3)
    data = rng.gamma(4.0, 50.0, (10, 12, 14)).astype(np.float32)
    data[:, :3] = 0  # background
    return data


def test_zscore_by_hand() -> None:
    data = np.array([1.0, 2.0, 3.0, 4.0])  # mean 2.5, population sd sqrt(1.25)
    np.testing.assert_allclose(zscore(data), (data - 2.5) / np.sqrt(1.25), rtol=1e-6)


def test_zscore_nonzero_matches_monai(brain: np.ndarray) -> None:
    expected = NormalizeIntensity(nonzero=True)(torch.from_numpy(brain[None]))[0].numpy()
    out = zscore_nonzero(brain)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert np.all(out[:, :3] == 0)
    assert out[brain != 0].mean() == pytest.approx(0, abs=1e-5)


def test_minmax_matches_monai(brain: np.ndarray) -> None:
    expected = ScaleIntensity(minv=0.0, maxv=1.0)(torch.from_numpy(brain)).numpy()
    np.testing.assert_allclose(minmax(brain), expected, atol=1e-6)


def test_percentile_minmax_all_voxels_matches_monai(brain: np.ndarray) -> None:
    expected = ScaleIntensityRangePercentiles(1, 99, 0.0, 1.0, clip=True)(torch.from_numpy(brain)).numpy()
    np.testing.assert_allclose(percentile_minmax(brain, nonzero=False), expected, atol=1e-6)


def test_percentile_minmax_nonzero_by_hand() -> None:
    data = np.array([0, 0, 10, 20, 30, 40, 50], dtype=np.float32)
    # non-zero 10..50: 1 % -> 10.4, 99 % -> 49.6 (linear ranks 0.04 and 3.96)
    expected = np.clip(np.array([10, 20, 30, 40, 50]), 10.4, 49.6)
    expected = (expected - 10.4) / (49.6 - 10.4)
    out = percentile_minmax(data)
    np.testing.assert_allclose(out, [0, 0, *expected], atol=1e-6)


def test_henry_whole_image_recipe_gives_the_same_result(brain: np.ndarray) -> None:
    """Clip the whole image to the non-zero percentiles, then min-max it (B5 pipeline A)."""
    low, high = np.percentile(brain[brain > 0], [1, 99])
    clipped = np.clip(brain, low, high)
    expected = (clipped - clipped.min()) / (clipped.max() - clipped.min())
    np.testing.assert_allclose(percentile_minmax(brain), expected, atol=1e-6)


def test_fixed_zscore_and_dispatch() -> None:
    data = np.array([[0.0, 10.0], [20.0, 30.0]])
    np.testing.assert_allclose(fixed_zscore(data, 10.0, 5.0), [[-2, 0], [2, 4]])
    params = {"mean": [10.0, 0.0], "std": [5.0, 10.0]}
    np.testing.assert_allclose(normalize(data, "fixed-zscore", params, channel=1), data / 10.0)
    with pytest.raises(MedSegError, match="std"):
        fixed_zscore(data, 0.0, 0.0)


def test_constant_and_empty_inputs_do_not_divide_by_zero() -> None:
    assert np.all(zscore(np.full((3, 3), 7.0)) == 0)
    assert np.all(zscore_nonzero(np.zeros((3, 3))) == 0)
    assert np.all(minmax(np.full(4, 2.0)) == 0)
    assert np.all(percentile_minmax(np.zeros(5)) == 0)


def test_inputs_are_never_modified(brain: np.ndarray) -> None:
    before = brain.copy()
    for method in ("zscore", "zscore-nonzero", "minmax", "percentile-minmax", "none"):
        out = normalize(brain, method)
        assert out.dtype == np.float32
    np.testing.assert_array_equal(brain, before)


def test_dispatch_passes_the_percentile_options_on(brain: np.ndarray) -> None:
    """``normalize`` with lower 5 / upper 90 against numpy's percentiles of the non-zero voxels (the old
    test checked only the dtype). Kills: options ignored (1/99 used), lower/upper swapped, ``nonzero``
    dropped (the percentiles would include the zero background); ``prep-percentile-options-ignored``."""
    values = brain[brain != 0].astype(np.float64)
    low, high = np.percentile(values, [5, 90])
    expected = np.where(brain != 0, (np.clip(brain, low, high) - low) / (high - low), 0.0)
    got = normalize(brain, "percentile-minmax", {"lower": 5, "upper": 90})
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    whole = normalize(brain, "percentile-minmax", {"lower": 5, "upper": 90, "nonzero": False})
    low, high = np.percentile(brain.astype(np.float64), [5, 90])
    np.testing.assert_allclose(whole, (np.clip(brain, low, high) - low) / (high - low), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("l1", {}, "normalization"),
        ("zscore", {"mean": 1}, "norm_params"),
        ("percentile-minmax", {"lower": 99, "upper": 1}, "upper"),
        ("percentile-minmax", {"lower": -1}, "lower"),
        ("fixed-zscore", {"mean": 1.0}, "std"),
        ("fixed-zscore", {"mean": "a", "std": 1.0}, "mean"),
        ("fixed-zscore", {"mean": 0.0, "std": [1.0, -1.0]}, "std"),
    ],
)
def test_invalid_options_raise(method: str, params: dict, message: str) -> None:
    with pytest.raises(MedSegError, match=message):
        normalize(np.ones(3), method, params)
