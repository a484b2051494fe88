"""Compound losses (L1 Combo and Mixed Focal, C6 Tanimoto + CE) against the numpy reference and MONAI."""

from __future__ import annotations

import pytest
import torch
from monai.losses import DiceCELoss

from MedSegTrain.errors import MedSegError
from MedSegTrain.losses import get_loss

from .conftest import TARGET_KINDS

COMPOUND_LOSSES = {
    "combo": {"smooth": 1.0},
    "mixed_focal": {
        "lam": 0.3,
        "alpha": [0.2, 0.5, 0.3],
        "gamma_focal": 1.0,
        "delta": 0.4,
        "gamma_tversky": 2.0,
    },
    "tanimoto_ce": {"weights": [0.5, 0.5], "smooth": 0.1},
}
OPTION_SETS = ({}, {"batch": False}, {"include_background": False})


@pytest.mark.parametrize("kind", TARGET_KINDS)
@pytest.mark.parametrize("options", OPTION_SETS, ids=str)
@pytest.mark.parametrize("name", sorted(COMPOUND_LOSSES))
def test_matches_numpy_reference(compare, name, options, kind):
    compare(name, options, kind)
    compare(name, {**options, **COMPOUND_LOSSES[name]}, kind, spatial=(7, 9), seed=1)


@pytest.mark.parametrize("batch", [True, False])
@pytest.mark.parametrize("kind", ["labels", "soft"])
def test_combo_is_monai_dice_ce_minus_one(case, batch, kind):
    """ce - mean DSC = (ce + (1 - mean DSC)) - 1."""
    logits, target = case(2, soft=kind == "soft")
    monai = DiceCELoss(
        softmax=True, to_onehot_y=kind == "labels", batch=batch, smooth_nr=1e-5, smooth_dr=1e-5
    )
    ours = get_loss("combo", batch=batch)(logits, target)
    # MONAI one-hot-encodes labels in float32 for its Dice term.
    assert float(ours) == pytest.approx(float(monai(logits, target)) - 1, rel=1e-6)


def test_combo_reaches_minus_one_at_a_perfect_prediction():
    target = torch.tensor([[[0, 1, 1, 0]]])
    logits = torch.stack([1 - target[:, 0], target[:, 0]], 1).double() * 80
    assert float(get_loss("combo", smooth=0.0)(logits, target)) == pytest.approx(-1.0, abs=1e-12)


def test_mixed_focal_half_lambda_is_half_the_categorical_sum(case, ref):
    """Eq. 24 (categorical focal Tversky + categorical focal) with lam = 0.5 is twice eq. 23."""
    logits, target = case(3)
    ours = get_loss("mixed_focal", lam=0.5)(logits, target)
    categorical = ref.focal(logits.numpy(), target.numpy()) + ref.focal_tversky(
        logits.numpy(), target.numpy()
    )
    assert float(ours) == pytest.approx(categorical / 2, rel=1e-12)


def test_tanimoto_ce_default_weights_are_the_papers(case, ref):
    logits, target = case(4)
    expected = 0.6 * ref.tanimoto(logits.numpy(), target.numpy()) + 0.4 * ref.ce(
        logits.numpy(), target.numpy()
    )
    assert float(get_loss("tanimoto_ce")(logits, target)) == pytest.approx(expected, rel=1e-12)


def test_compound_option_errors_name_the_loss():
    with pytest.raises(MedSegError, match="loss 'combo': option smooth"):
        get_loss("combo", smooth=-1)
    with pytest.raises(MedSegError, match="loss 'mixed_focal': option lam must lie in \\[0, 1\\]"):
        get_loss("mixed_focal", lam=1.5)
    with pytest.raises(MedSegError, match="loss 'mixed_focal': option gamma_tversky"):
        get_loss("mixed_focal", gamma_tversky=0)
    with pytest.raises(MedSegError, match="option weights must be two numbers"):
        get_loss("tanimoto_ce", weights=[1.0])
    with pytest.raises(MedSegError, match="option batch must be true or false"):
        get_loss("tanimoto_ce", batch="yes")
