"""get_loss / list_losses / loss_parameters: the names and options of FORMULAS.md and issue 4."""

from __future__ import annotations

import math

import pytest
import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.losses import get_loss, list_losses, loss_parameters

FORMULAS_NAMES = {
    "ce",
    "topk_ce",
    "focal",
    "dice",
    "dice_squared",
    "tversky",
    "focal_tversky",
    "cosine_tversky",
    "combo",
    "mixed_focal",
    "tanimoto",
    "tanimoto_ce",
}
REGION_OPTIONS = {"activation": "softmax", "batch": True, "include_background": True, "smooth": 1e-5}


def test_every_formulas_name_is_registered():
    assert set(list_losses()) == FORMULAS_NAMES
    assert all(isinstance(get_loss(name), torch.nn.Module) for name in FORMULAS_NAMES)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ce", {"activation": "softmax"}),
        ("topk_ce", {"activation": "softmax", "k_fraction": None, "k": None}),
        ("focal", {"activation": "softmax", "alpha": 0.25, "gamma": 2.0}),
        ("dice", REGION_OPTIONS),
        ("dice_squared", REGION_OPTIONS),
        ("tanimoto", REGION_OPTIONS),
        ("combo", REGION_OPTIONS),
        ("tversky", {**REGION_OPTIONS, "delta": 0.7}),
        ("focal_tversky", {**REGION_OPTIONS, "delta": 0.7, "gamma": 4 / 3}),
        ("cosine_tversky", {**REGION_OPTIONS, "delta": 0.7, "gamma": 1.0}),
        ("tanimoto_ce", {**REGION_OPTIONS, "weights": (0.6, 0.4)}),
        (
            "mixed_focal",
            {
                **REGION_OPTIONS,
                "lam": 0.5,
                "alpha": 0.25,
                "gamma_focal": 2.0,
                "delta": 0.7,
                "gamma_tversky": 4 / 3,
            },
        ),
    ],
)
def test_options_and_paper_defaults(name, expected):
    params = loss_parameters(name)
    assert params.keys() == expected.keys()
    for key, value in expected.items():
        assert params[key] == value or math.isclose(params[key], value), key


def test_topk_default_fraction_is_five_percent():
    assert get_loss("topk_ce").voxels_kept(2000) == 100


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(MedSegError, match="unknown loss 'diceloss'; valid losses: ce, topk_ce, focal, dice"):
        get_loss("diceloss")
    with pytest.raises(MedSegError, match="unknown loss \\['dice'\\]"):
        get_loss(["dice"])


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(
        MedSegError,
        match="loss 'tversky': unknown option\\(s\\) alpha, beta; valid options: activation, batch, "
        "include_background, smooth, delta",
    ):
        get_loss("tversky", alpha=0.3, beta=0.7)
