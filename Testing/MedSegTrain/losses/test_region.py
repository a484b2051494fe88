"""Region losses (L1, B4, C6) against the numpy transcription of FORMULAS.md, MONAI and limiting cases."""

from __future__ import annotations

import math

import pytest
import torch
from monai.losses import DiceLoss as MonaiDice
from monai.losses import TverskyLoss as MonaiTversky

from MedSegTrain.losses import get_loss

from .conftest import TARGET_KINDS

REGION_LOSSES = {
    "dice": {"smooth": 1.0},
    "dice_squared": {"smooth": 1.0},
    "tversky": {"delta": 0.3},
    "focal_tversky": {"delta": 0.6, "gamma": 2.0},
    "cosine_tversky": {"delta": 0.4, "gamma": 2.5},
    "tanimoto": {"smooth": 0.5},
}
OPTION_SETS = ({}, {"batch": False}, {"include_background": False}, {"batch": False, "smooth": 0.0})


@pytest.mark.parametrize("kind", TARGET_KINDS)
@pytest.mark.parametrize("options", OPTION_SETS, ids=str)
@pytest.mark.parametrize("name", sorted(REGION_LOSSES))
def test_matches_numpy_reference(compare, name, options, kind):
    compare(name, options, kind)
    compare(name, {**options, **REGION_LOSSES[name]}, kind, spatial=(7, 9), seed=1)


def one_hot_float64(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(N, 1, ...) labels to (N, K, ...) float64 with torch's own one_hot."""
    return torch.nn.functional.one_hot(labels[:, 0], num_classes).movedim(-1, 1).double()


@pytest.mark.parametrize("batch", [True, False])
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("kind", ["labels", "soft"])
def test_dice_forms_equal_monai(case, batch, include_background, kind):
    logits, target = case(3, soft=kind == "soft")
    s = 0.3
    # MONAI's own one-hot is float32; hand it a float64 one for a float64 comparison.
    monai_target = target if kind == "soft" else one_hot_float64(target, 3)
    monai_opts = dict(softmax=True, batch=batch, include_background=include_background)
    ours = dict(batch=batch, include_background=include_background, smooth=s)
    dice = MonaiDice(smooth_nr=s, smooth_dr=s, **monai_opts)(logits, monai_target)
    squared = MonaiDice(squared_pred=True, smooth_nr=s, smooth_dr=s, **monai_opts)(logits, monai_target)
    # MONAI's jaccard doubles numerator and denominator: 1 - (2I + s') / (2(P2 + G2 - I) + s'),
    # which is our Tanimoto exactly when s' = 2s.
    jaccard = MonaiDice(squared_pred=True, jaccard=True, smooth_nr=2 * s, smooth_dr=2 * s, **monai_opts)
    assert float(get_loss("dice", **ours)(logits, target)) == pytest.approx(float(dice), rel=1e-12)
    assert float(get_loss("dice_squared", **ours)(logits, target)) == pytest.approx(float(squared), rel=1e-12)
    assert float(get_loss("tanimoto", **ours)(logits, target)) == pytest.approx(
        float(jaccard(logits, monai_target)), rel=1e-12
    )


def test_monai_jaccard_with_same_smooth_differs_from_tanimoto(case):
    """Documented offset: with the same smooth s MONAI's jaccard adds s to 2I, not to I."""
    logits, target = case(4)
    s = 1.0
    monai = MonaiDice(softmax=True, batch=True, squared_pred=True, jaccard=True, smooth_nr=s, smooth_dr=s)(
        logits, one_hot_float64(target, 3)
    )
    ours = get_loss("tanimoto", smooth=s)(logits, target)
    assert abs(float(monai) - float(ours)) > 1e-4


def test_sigmoid_dice_equals_monai(case):
    logits, target = case(5, sigmoid=True)
    monai = MonaiDice(sigmoid=True, batch=True, smooth_nr=1e-5, smooth_dr=1e-5)(logits, target)
    assert float(get_loss("dice", activation="sigmoid")(logits, target)) == pytest.approx(
        float(monai), rel=1e-12
    )


@pytest.mark.parametrize("delta", [0.7, 0.3])
@pytest.mark.parametrize("batch", [True, False])
def test_tversky_equals_monai_with_alpha_one_minus_delta(case, delta, batch):
    logits, target = case(6)
    monai = MonaiTversky(
        softmax=True, alpha=1 - delta, beta=delta, batch=batch, smooth_nr=1e-5, smooth_dr=1e-5
    )(logits, one_hot_float64(target, 3))
    ours = get_loss("tversky", delta=delta, batch=batch)(logits, target)
    assert float(ours) == pytest.approx(float(monai), rel=1e-12)


def test_tversky_delta_weights_false_negatives():
    """One class, p = 0.5 everywhere, g = 1 on 2 of 4 voxels: FN = 1, FP = 1, TP = 1.

    TI = 1 / (1 + delta * FN + (1 - delta) * FP) regardless; make FN != FP to see delta's side:
    g = 1 on 3 voxels -> TP = 1.5, FN = 1.5, FP = 0.5; TI(0.7) = 1.5 / (1.5 + 1.05 + 0.15).
    """
    logits = torch.zeros(1, 1, 4, dtype=torch.float64)
    target = torch.tensor([[[1.0, 1.0, 1.0, 0.0]]], dtype=torch.float64)
    loss = get_loss("tversky", activation="sigmoid", smooth=0.0)(logits, target)
    assert float(loss) == pytest.approx(1 - 1.5 / 2.7, rel=1e-12)


def test_dice_hand_computed_value():
    """Sigmoid, one channel: p = (0.5, 0.5, 0.5), g = (1, 0, 1): Dice = 2*1 / (1.5 + 2)."""
    logits = torch.zeros(1, 1, 3, dtype=torch.float64)
    target = torch.tensor([[[1.0, 0.0, 1.0]]], dtype=torch.float64)
    loss = get_loss("dice", activation="sigmoid", smooth=0.0)(logits, target)
    assert float(loss) == pytest.approx(1 - 2.0 / 3.5, rel=1e-12)


def test_focal_tversky_with_gamma_one_is_tversky(case):
    logits, target = case(7)
    tversky = get_loss("tversky", delta=0.6)(logits, target)
    assert float(get_loss("focal_tversky", delta=0.6, gamma=1.0)(logits, target)) == pytest.approx(
        float(tversky), rel=1e-12
    )


def test_focal_tversky_exponent_is_one_over_gamma():
    """One sigmoid channel with TI = 1 - 0.4 (chosen by the target): loss = 0.4 ** (3/4)."""
    logits = torch.zeros(1, 1, 2, dtype=torch.float64)  # p = 0.5, 0.5
    target = torch.tensor([[[1.0, 0.0]]], dtype=torch.float64)  # TP 0.5, FN 0.5, FP 0.5
    # TI = 0.5 / (0.5 + 0.5 delta + 0.5 (1 - delta)) = 0.5 for any delta
    loss = get_loss("focal_tversky", activation="sigmoid", smooth=0.0)(logits, target)
    assert float(loss) == pytest.approx(0.5**0.75, rel=1e-12)


@pytest.mark.parametrize("gamma", [1.0, 2.0])
def test_cosine_tversky_endpoints(gamma):
    """1 when nothing overlaps (TI = 0), 0 when the overlap is perfect (TI = 1)."""
    target = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]], dtype=torch.float64)
    wrong = torch.tensor([[[-60.0, -60.0, 60.0, 60.0]]], dtype=torch.float64)
    right = -wrong
    loss = get_loss("cosine_tversky", activation="sigmoid", smooth=0.0, gamma=gamma)
    assert float(loss(wrong, target)) == pytest.approx(1.0, abs=1e-12)
    assert float(loss(right, target)) == pytest.approx(0.0, abs=1e-12)
    middle = get_loss("cosine_tversky", activation="sigmoid", smooth=0.0, gamma=gamma)(
        torch.zeros(1, 1, 2, dtype=torch.float64), torch.tensor([[[1.0, 0.0]]], dtype=torch.float64)
    )
    assert float(middle) == pytest.approx(math.cos(math.pi / 4) ** gamma, rel=1e-12)


def test_include_background_false_is_the_mean_over_foreground_classes(case):
    logits, target = case(8)
    p = torch.softmax(logits, 1)
    index = []
    for c in (1, 2):
        g = (target[:, 0] == c).double()
        index.append((2 * (p[:, c] * g).sum() + 1e-5) / (p[:, c].sum() + g.sum() + 1e-5))
    loss = get_loss("dice", include_background=False)(logits, target)
    assert float(loss) == pytest.approx(1 - float(sum(index)) / 2, rel=1e-12)
