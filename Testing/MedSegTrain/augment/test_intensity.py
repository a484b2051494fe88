"""Intensity transforms (L5, B6) against their formulas, evaluated independently in numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from MedSegTrain.augment.intensity import (
    Brightness,
    ChannelDrop,
    ChannelRescale,
    ChannelShift,
    Contrast,
    Gamma,
    GaussianNoise,
)
from MedSegTrain.errors import MedSegError


def _batch(n: int = 4, c: int = 3, shape: tuple[int, ...] = (6, 7, 8), seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.normal(2.0, 1.5, size=(n, c, *shape)).astype(np.float32))


def _run(transform, images: torch.Tensor, seed: int = 1):
    params = transform.sample(images.shape, torch.Generator().manual_seed(seed), images.device)
    labels = torch.zeros(images.shape[0], 1, *images.shape[2:], dtype=torch.long)
    out, out_labels = transform.apply(images.clone(), labels.clone(), params)
    assert torch.equal(out_labels, labels)  # intensity transforms never touch the mask
    return out.double().numpy(), {key: value.numpy() for key, value in params.items()}


def test_brightness_multiplies_each_sample_by_its_factor():
    images = _batch()
    out, params = _run(Brightness(p=0.5, bounds=(0.5, 2.0)), images)
    x = images.double().numpy()
    for i in range(len(x)):
        factor = params["factor"][i, 0] if params["applied"][i] else 1.0
        np.testing.assert_allclose(out[i], x[i] * factor, rtol=1e-6)
        assert 0.5 <= params["factor"][i, 0] <= 2.0


def test_contrast_scales_about_the_channel_mean_and_preserves_the_range():
    images = _batch()
    out, params = _run(Contrast(p=1.0, bounds=(0.3, 3.0)), images)
    x = images.double().numpy()
    for i in range(len(x)):
        for c in range(x.shape[1]):
            mean = x[i, c].mean()
            expected = np.clip((x[i, c] - mean) * params["factor"][i, c] + mean, x[i, c].min(), x[i, c].max())
            np.testing.assert_allclose(out[i, c], expected, atol=1e-5)


def test_contrast_and_gamma_draw_below_and_above_one_equally_often():
    params = Gamma(p=1.0, bounds=(0.7, 1.5)).sample(
        torch.Size((4000, 1, 2, 2)), torch.Generator().manual_seed(2), torch.device("cpu")
    )
    gamma = params["factor"].numpy().ravel()
    assert abs((gamma < 1).mean() - 0.5) < 0.03
    assert stats.kstest(gamma[gamma < 1], stats.uniform(0.7, 0.3).cdf).pvalue > 1e-3
    assert stats.kstest(gamma[gamma >= 1], stats.uniform(1.0, 0.5).cdf).pvalue > 1e-3


def test_gamma_matches_its_formula_per_sample_and_channel():
    images = _batch()
    out, params = _run(Gamma(p=0.7), images, seed=3)
    x = images.double().numpy()
    for i in range(len(x)):
        for c in range(x.shape[1]):
            if not params["applied"][i]:
                np.testing.assert_array_equal(out[i, c], x[i, c])
                continue
            low, high = x[i, c].min(), x[i, c].max()
            span = high - low + 1e-7
            expected = ((x[i, c] - low) / span) ** params["factor"][i, 0] * span + low
            np.testing.assert_allclose(out[i, c], expected, atol=1e-4)


def test_gaussian_noise_has_the_configured_standard_deviation_and_is_reproducible():
    images = torch.zeros(2, 1, 64, 64, 64)
    out, _ = _run(GaussianNoise(p=1.0, std=(0.1, 0.1)), images)
    noise = out.ravel()
    assert abs(noise.mean()) < 2e-3 and noise.std() == pytest.approx(0.1, rel=0.01)
    assert stats.kstest(noise[:20000] / 0.1, "norm").pvalue > 1e-3
    again, _ = _run(GaussianNoise(p=1.0, std=(0.1, 0.1)), images)
    np.testing.assert_array_equal(out, again)


def test_gaussian_noise_spares_unselected_samples():
    images = _batch(n=8)
    out, params = _run(GaussianNoise(p=0.5, std=(0.0, 0.2)), images, seed=5)
    x = images.double().numpy()
    assert 0 < params["applied"].sum() < 8
    for i in range(8):
        if params["applied"][i]:
            assert (out[i] - x[i]).std() == pytest.approx(params["std"][i], rel=0.15)
        else:
            np.testing.assert_array_equal(out[i], x[i])


def test_channel_rescale_and_shift_use_one_constant_per_channel_in_range():
    images = _batch(n=6)
    x = images.double().numpy()
    scaled, params = _run(ChannelRescale(p=1.0), images)
    ratio = scaled / x
    np.testing.assert_allclose(ratio, ratio[:, :, :1, :1, :1] * np.ones_like(ratio), rtol=1e-5)
    assert np.all((params["factor"] >= 0.9) & (params["factor"] <= 1.1))
    assert len(np.unique(params["factor"].round(6))) == params["factor"].size  # one per (sample, channel)
    shifted, params = _run(ChannelShift(p=1.0), images)
    np.testing.assert_allclose(
        shifted - x, params["factor"][:, :, None, None, None] * np.ones_like(x), atol=1e-5
    )
    assert np.all(np.abs(params["factor"]) <= 0.1)


def test_channel_drop_zeroes_exactly_one_channel():
    images = _batch(n=50, c=4, shape=(3, 3, 3))
    out, params = _run(ChannelDrop(p=1.0), images)
    x = images.double().numpy()
    for i in range(50):
        zero = [c for c in range(4) if np.all(out[i, c] == 0)]
        assert zero == [params["channel"][i]]
        kept = [c for c in range(4) if c != zero[0]]
        np.testing.assert_array_equal(out[i, kept], x[i, kept])
    assert set(params["channel"].tolist()) == {0, 1, 2, 3}


def test_channel_drop_needs_two_channels():
    with pytest.raises(MedSegError, match="at least 2 input channels"):
        ChannelDrop(p=1.0).sample(torch.Size((2, 1, 4, 4)), torch.Generator(), torch.device("cpu"))
