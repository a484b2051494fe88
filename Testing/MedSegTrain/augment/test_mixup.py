"""Mixup and CutMix (X1, X2) against hand-computed mixtures and scipy's Beta distribution."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from MedSegTrain.augment import cutmix, mixup
from MedSegTrain.errors import MedSegError


def _batch(n: int = 6, k: int = 3, shape: tuple[int, ...] = (7, 9), seed: int = 1):
    rng = np.random.default_rng(seed)
    images = torch.from_numpy(rng.normal(size=(n, 2, *shape)).astype(np.float32))
    labels = torch.from_numpy(rng.integers(0, k, size=(n, 1, *shape)))
    return images, labels


def _one_hot_numpy(labels: np.ndarray, k: int) -> np.ndarray:
    return (labels[:, 0:1] == np.arange(k).reshape(1, k, *([1] * (labels.ndim - 2)))).astype(np.float64)


def _find_partner(mixed: np.ndarray, images: np.ndarray, i: int, lam: float) -> int:
    """The j with mixed = lam*x_i + (1-lam)*x_j, found by trying every j."""
    matches = [
        j
        for j in range(len(images))
        if np.allclose(mixed, lam * images[i] + (1 - lam) * images[j], atol=1e-5)
    ]
    assert len(matches) == 1, f"sample {i}: partners {matches}"
    return matches[0]


@pytest.mark.parametrize("per_sample", [False, True])
def test_mixup_equals_hand_computed_convex_combination_with_shared_partner(per_sample):
    images, labels = _batch()
    x, y = images.numpy().astype(np.float64), labels.numpy()
    mixed, targets, lam = mixup(
        images, labels, 0.5, torch.Generator().manual_seed(3), per_sample=per_sample, num_classes=3
    )
    lams = lam.numpy() if per_sample else np.full(len(x), lam)
    if per_sample:
        assert lam.shape == (6,)
    else:
        assert isinstance(lam, float)
    assert np.all((lams > 0) & (lams < 1))
    one_hot = _one_hot_numpy(y, 3)
    partners = []
    for i in range(len(x)):
        j = _find_partner(mixed[i].numpy(), x, i, lams[i])
        partners.append(j)
        expected = lams[i] * one_hot[i] + (1 - lams[i]) * one_hot[j]
        np.testing.assert_allclose(targets[i].numpy(), expected, atol=1e-6)
    assert sorted(partners) == list(range(len(x)))  # a permutation of the batch
    assert targets.shape == (6, 3, 7, 9) and targets.dtype == torch.float32


def test_mixup_mixes_float_region_targets_as_given():
    images, _ = _batch(n=4)
    regions = (torch.rand(4, 3, 7, 9, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    mixed, targets, lam = mixup(images, regions, 1.0, torch.Generator().manual_seed(5))
    for i in range(4):
        j = _find_partner(mixed[i].numpy(), images.numpy(), i, lam)
        np.testing.assert_allclose(
            targets[i].numpy(), lam * regions[i].numpy() + (1 - lam) * regions[j].numpy(), atol=1e-6
        )


@pytest.mark.parametrize("alpha", [0.2, 0.5, 1.0])
def test_lam_follows_beta_alpha_alpha(alpha):
    images = torch.zeros(4000, 1, 1, 1)
    labels = torch.zeros(4000, 1, 1, 1, dtype=torch.long)
    _, _, lam = mixup(
        images, labels, alpha, torch.Generator().manual_seed(11), per_sample=True, num_classes=2
    )
    result = stats.kstest(lam.numpy(), stats.beta(alpha, alpha).cdf)
    assert result.pvalue > 1e-3


def test_per_batch_lam_follows_beta_over_calls():
    images, labels = _batch(n=2, shape=(2, 2))
    generator = torch.Generator().manual_seed(2)
    draws = [mixup(images, labels, 0.5, generator, num_classes=3)[2] for _ in range(600)]
    assert stats.kstest(draws, stats.beta(0.5, 0.5).cdf).pvalue > 1e-3


def test_alpha_zero_returns_batch_unchanged_with_one_hot_targets():
    images, labels = _batch()
    mixed, targets, lam = mixup(images, labels, 0.0, torch.Generator().manual_seed(0), num_classes=3)
    assert mixed is images and lam == 1.0
    np.testing.assert_array_equal(targets.numpy(), _one_hot_numpy(labels.numpy(), 3))
    _, _, lam_vector = mixup(images, labels, 0, per_sample=True, num_classes=3)
    assert torch.equal(lam_vector, torch.ones(6))


def test_same_seed_same_batch_and_inputs_untouched():
    images, labels = _batch()
    images_before, labels_before = images.clone(), labels.clone()
    first = mixup(images, labels, 0.4, torch.Generator().manual_seed(9), per_sample=True, num_classes=3)
    second = mixup(images, labels, 0.4, torch.Generator().manual_seed(9), per_sample=True, num_classes=3)
    other = mixup(images, labels, 0.4, torch.Generator().manual_seed(10), per_sample=True, num_classes=3)
    assert (
        torch.equal(first[0], second[0])
        and torch.equal(first[1], second[1])
        and torch.equal(first[2], second[2])
    )
    assert not torch.equal(first[0], other[0])
    assert torch.equal(images, images_before) and torch.equal(labels, labels_before)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": -1, "num_classes": 3}, "alpha"),
        ({"alpha": float("nan"), "num_classes": 3}, "alpha"),
        ({"alpha": "big", "num_classes": 3}, "alpha"),
        ({"alpha": 0.5}, "num_classes"),
        ({"alpha": 0.5, "num_classes": 2}, r"\[0, 1\]"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    images, labels = _batch()
    with pytest.raises(MedSegError, match=message):
        mixup(images, labels, **kwargs)


def test_shape_mismatch_is_reported():
    images, labels = _batch()
    with pytest.raises(MedSegError, match="do not match"):
        mixup(images, labels[:, :, :5], 0.5, num_classes=3)
    with pytest.raises(MedSegError, match="float tensor"):
        mixup(images.long(), labels, 0.5, num_classes=3)


@pytest.mark.parametrize("per_sample", [False, True])
def test_cutmix_pastes_one_box_of_the_partner_into_image_and_mask(per_sample):
    n = 5
    # Sample i is constant i + 1, so every voxel says where it came from.
    images = torch.arange(1, n + 1, dtype=torch.float32).view(n, 1, 1, 1, 1).expand(n, 1, 6, 8, 10).clone()
    labels = torch.arange(n).view(n, 1, 1, 1, 1).expand(n, 1, 6, 8, 10).clone()
    mixed, targets, lam = cutmix(
        images, labels, 1.0, torch.Generator().manual_seed(4), per_sample=per_sample, num_classes=n
    )
    lams = lam.numpy() if per_sample else np.full(n, lam)
    mixed_samples = 0
    for i in range(n):
        sources = mixed[i, 0].numpy() - 1
        own = sources == i
        foreign = ~own
        if foreign.any():  # partner != i (a fixed point of the permutation mixes with itself)
            mixed_samples += 1
            assert own.mean() == pytest.approx(lams[i])
            assert len(np.unique(sources[foreign])) == 1  # a single partner
            zs, ys, xs = np.nonzero(foreign)  # the pasted region is a full box
            assert foreign.sum() == (np.ptp(zs) + 1) * (np.ptp(ys) + 1) * (np.ptp(xs) + 1)
        label_source = targets[i].argmax(0).numpy()
        np.testing.assert_array_equal(label_source, sources)
        assert torch.all(targets[i].sum(0) == 1)
    assert mixed_samples >= 3
