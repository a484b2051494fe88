"""Voxel-wise losses (L1 CE and focal, X9 top-k CE) against the numpy reference, MONAI and hand values."""

from __future__ import annotations

import math

import pytest
import torch
from monai.losses import FocalLoss as MonaiFocal

from MedSegTrain.errors import MedSegError
from MedSegTrain.losses import get_loss

from .conftest import TARGET_KINDS

VOXELWISE_LOSSES = {
    "ce": {},
    "topk_ce": {"k_fraction": 0.3},
    "focal": {"alpha": [0.2, 0.3, 0.5], "gamma": 1.5},
}


@pytest.mark.parametrize("kind", TARGET_KINDS)
@pytest.mark.parametrize("name", sorted(VOXELWISE_LOSSES))
def test_matches_numpy_reference(compare, name, kind):
    compare(name, {}, kind)
    compare(name, VOXELWISE_LOSSES[name], kind, spatial=(7, 9), seed=1)


def test_ce_hand_computed_value():
    """Two classes, logits (0, log 3): p = (1/4, 3/4); labels 1 then 0 -> CE = (-log 3/4 - log 1/4) / 2."""
    logits = torch.tensor([[[0.0, 0.0], [math.log(3), math.log(3)]]], dtype=torch.float64)
    target = torch.tensor([[[1, 0]]])
    expected = (-math.log(0.75) - math.log(0.25)) / 2
    assert float(get_loss("ce")(logits, target)) == pytest.approx(expected, rel=1e-12)


def test_ce_integer_labels_equal_their_one_hot(case):
    logits, labels = case(2)
    one_hot = torch.nn.functional.one_hot(labels[:, 0], 3).movedim(-1, 1).double()
    loss = get_loss("ce")
    assert float(loss(logits, labels)) == pytest.approx(float(loss(logits, one_hot)), rel=1e-12)


@pytest.mark.parametrize("kind", TARGET_KINDS)
def test_topk_with_every_voxel_is_ce(case, kind):
    sigmoid = kind.startswith("sigmoid")
    logits, target = case(3, soft=kind.endswith("soft"), sigmoid=sigmoid)
    activation = "sigmoid" if sigmoid else "softmax"
    full = get_loss("topk_ce", k_fraction=1.0, activation=activation)(logits, target)
    assert float(full) == pytest.approx(
        float(get_loss("ce", activation=activation)(logits, target)), rel=1e-12
    )


def test_topk_keeps_the_hardest_voxels_per_sample():
    """Sample 0 has per-voxel CE (log 2, big, log 2, small); k = 2 keeps big and log 2 for each sample."""
    logits = torch.zeros(2, 2, 4, dtype=torch.float64)
    logits[0, 1, 1] = 5.0  # voxel 1 of sample 0 predicts class 1 strongly, label 0 -> hard
    logits[0, 0, 3] = 5.0  # voxel 3 of sample 0 is easy
    target = torch.zeros(2, 1, 4, dtype=torch.long)
    hard = math.log(1 + math.exp(5.0))
    expected_sample0 = (hard + math.log(2)) / 2
    expected_sample1 = math.log(2)
    loss = get_loss("topk_ce", k=2)(logits, target)
    assert float(loss) == pytest.approx((expected_sample0 + expected_sample1) / 2, rel=1e-12)


def test_topk_k_rounds_and_is_clamped():
    loss = get_loss("topk_ce", k_fraction=0.05)
    assert loss.voxels_kept(1000) == 50
    assert loss.voxels_kept(10) == 1  # round(0.5) = 0 -> at least one
    assert get_loss("topk_ce", k=500).voxels_kept(100) == 100


def test_topk_option_errors():
    with pytest.raises(MedSegError, match="either option k_fraction or option k"):
        get_loss("topk_ce", k_fraction=0.1, k=10)
    with pytest.raises(MedSegError, match="option k must be a positive integer"):
        get_loss("topk_ce", k=0)
    with pytest.raises(MedSegError, match=r"option k_fraction must lie in \(0, 1\]"):
        get_loss("topk_ce", k_fraction=0.0)


@pytest.mark.parametrize("kind", ["labels", "soft"])
def test_focal_with_gamma_zero_and_alpha_one_is_ce(case, kind):
    logits, target = case(4, soft=kind == "soft")
    focal = get_loss("focal", gamma=0.0, alpha=1.0)(logits, target)
    assert float(focal) == pytest.approx(float(get_loss("ce")(logits, target)), rel=1e-12)


def test_focal_sigmoid_with_gamma_zero_and_alpha_one_is_binary_ce(case):
    logits, target = case(5, sigmoid=True, soft=True)
    focal = get_loss("focal", activation="sigmoid", gamma=0.0, alpha=1.0)(logits, target)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    assert float(focal) == pytest.approx(float(bce), rel=1e-12)


@pytest.mark.parametrize("kind", ["labels", "soft"])
def test_focal_softmax_equals_monai_times_classes(case, kind):
    """MONAI averages over classes too (mean over N, C, voxels); ours sums over classes.

    MONAI's FocalLoss computes in float32 whatever the input dtype, hence the tolerance.
    """
    logits, target = case(6, soft=kind == "soft")
    monai_target = target if kind == "soft" else torch.nn.functional.one_hot(target[:, 0], 3).movedim(-1, 1)
    alpha = [0.125, 0.625, 0.25]
    monai = MonaiFocal(use_softmax=True, gamma=2.0, alpha=alpha)(logits, monai_target.double())
    ours = get_loss("focal", alpha=alpha, gamma=2.0)(logits, target)
    assert float(ours) == pytest.approx(3 * float(monai), rel=2e-6)


@pytest.mark.parametrize(("ours_alpha", "monai_alpha"), [(1.0, None), (0.5, 0.5)])
def test_focal_sigmoid_equals_monai_on_binary_targets(case, ours_alpha, monai_alpha):
    logits, target = case(7, sigmoid=True)
    monai = MonaiFocal(use_softmax=False, gamma=2.0, alpha=monai_alpha)(logits, target)
    ours = get_loss("focal", activation="sigmoid", alpha=ours_alpha, gamma=2.0)(logits, target)
    assert float(ours) == pytest.approx(float(monai), rel=2e-6)  # MONAI computes in float32


def test_focal_hand_computed_value():
    """One voxel, p = (1/4, 3/4), label 0, alpha 0.25, gamma 2: 0.25 * (3/4)^2 * -log(1/4)."""
    logits = torch.tensor([[[0.0], [math.log(3)]]], dtype=torch.float64)
    loss = get_loss("focal")(logits, torch.tensor([[[0]]]))
    assert float(loss) == pytest.approx(0.25 * 0.75**2 * math.log(4), rel=1e-12)


def test_focal_alpha_must_have_one_value_per_class(case):
    logits, target = case(8)
    with pytest.raises(MedSegError, match="alpha has 2 values but the logits have 3 channels"):
        get_loss("focal", alpha=[0.5, 0.5])(logits, target)
    with pytest.raises(MedSegError, match="option alpha"):
        get_loss("focal", alpha=-1)
    with pytest.raises(MedSegError, match="option gamma"):
        get_loss("focal", gamma=-0.5)


@pytest.mark.parametrize("name", ["ce", "focal"])
def test_softmax_voxelwise_losses_are_linear_in_a_mixup_target(case, name):
    """Mixup (X1) mixes one-hot targets linearly; CE and softmax focal are linear in g, so the loss of
    the mixed target is the same mix of the two losses."""
    logits, first = case(9)
    _, second = case(10)
    lam = 0.3
    one_hot = lambda labels: torch.nn.functional.one_hot(labels[:, 0], 3).movedim(-1, 1).double()  # noqa: E731
    mixed = lam * one_hot(first) + (1 - lam) * one_hot(second)
    loss = get_loss(name)
    expected = lam * float(loss(logits, first)) + (1 - lam) * float(loss(logits, second))
    assert float(loss(logits, mixed)) == pytest.approx(expected, rel=1e-12)
