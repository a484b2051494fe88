"""Input checks shared by every loss: clear MedSegError messages, accepted target layouts."""

from __future__ import annotations

import pytest
import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.losses import get_loss


@pytest.fixture
def logits():
    return torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_label_values_out_of_range(logits):
    target = torch.zeros(2, 1, 4, 4, dtype=torch.long)
    target[0, 0, 0, 0] = 3
    with pytest.raises(MedSegError, match=r"label values must lie in 0..2 for 3 output channels, found 0..3"):
        get_loss("dice")(logits, target)
    target[0, 0, 0, 0] = -1
    with pytest.raises(MedSegError, match=r"found -1\.\.0"):
        get_loss("ce")(logits, target)


def test_soft_values_out_of_range(logits):
    soft = torch.full((2, 3, 4, 4), 0.5, dtype=torch.float64)
    soft[1, 2, 0, 0] = 1.5
    with pytest.raises(MedSegError, match=r"soft target values must lie in \[0, 1\], found \[0.5, 1.5\]"):
        get_loss("tversky")(logits, soft)
    soft[1, 2, 0, 0] = float("nan")
    with pytest.raises(MedSegError, match="soft target values"):
        get_loss("tversky")(logits, soft)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((2, 2, 4, 4), "target has 2 channels but logits have 3"),
        ((2, 1, 4, 5), r"target shape \(2, 1, 4, 5\) does not match logits shape \(2, 3, 4, 4\)"),
        ((1, 1, 4, 4), "does not match logits shape"),
    ],
)
def test_shape_mismatch(logits, shape, message):
    with pytest.raises(MedSegError, match=message):
        get_loss("focal")(logits, torch.zeros(shape))


def test_sigmoid_rejects_a_label_map(logits):
    with pytest.raises(MedSegError, match="with activation 'sigmoid' the target must have one channel per"):
        get_loss("dice", activation="sigmoid")(logits, torch.zeros(2, 1, 4, 4, dtype=torch.long))


def test_bad_logits():
    with pytest.raises(MedSegError, match=r"logits must be a torch\.Tensor"):
        get_loss("ce")([[0.0]], torch.zeros(1, 1, 1))
    with pytest.raises(MedSegError, match="logits must be floating point"):
        get_loss("ce")(torch.zeros(1, 2, 3, dtype=torch.long), torch.zeros(1, 1, 3, dtype=torch.long))
    with pytest.raises(MedSegError, match=r"logits must be \(N, K, \*spatial\)"):
        get_loss("ce")(torch.zeros(2, 3), torch.zeros(2, 1))


def test_bad_target_type(logits):
    with pytest.raises(MedSegError, match=r"target must be a torch\.Tensor"):
        get_loss("ce")(logits, None)


def test_label_map_without_channel_axis_is_accepted(logits):
    labels = torch.randint(0, 3, (2, 4, 4), generator=torch.Generator().manual_seed(1))
    loss = get_loss("combo")
    assert float(loss(logits, labels)) == pytest.approx(float(loss(logits, labels[:, None])), rel=1e-15)


def test_integral_float_label_map_is_accepted_and_fractional_rejected(logits):
    labels = torch.randint(0, 3, (2, 1, 4, 4), generator=torch.Generator().manual_seed(2))
    loss = get_loss("tanimoto_ce")
    assert float(loss(logits, labels.double())) == pytest.approx(float(loss(logits, labels)), rel=1e-15)
    with pytest.raises(MedSegError, match="single-channel label map must hold integers"):
        loss(logits, labels.double() + 0.5)


def test_bad_activation_and_flags():
    with pytest.raises(MedSegError, match="activation must be one of softmax, sigmoid, got 'relu'"):
        get_loss("dice", activation="relu")
    with pytest.raises(MedSegError, match="option include_background must be true or false"):
        get_loss("dice", include_background=0)
    with pytest.raises(MedSegError, match=r"option delta must lie in \[0, 1\], got 1\.2"):
        get_loss("tversky", delta=1.2)
    with pytest.raises(MedSegError, match="option smooth must be a finite number"):
        get_loss("dice", smooth=float("inf"))


def test_include_background_false_needs_two_channels():
    logits = torch.zeros(1, 1, 4)
    with pytest.raises(MedSegError, match="include_background=False leaves no class"):
        get_loss("dice", activation="sigmoid", include_background=False)(logits, torch.zeros(1, 1, 4))


def test_two_and_three_dimensional_inputs_agree():
    """A 3D volume with one slice gives the 2D loss of that slice."""
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 3, 5, 6, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, 3, (2, 1, 5, 6), generator=gen)
    for name in ("dice", "focal", "mixed_focal", "topk_ce"):
        loss = get_loss(name)
        assert float(loss(logits[:, :, None], labels[:, :, None])) == pytest.approx(
            float(loss(logits, labels)), rel=1e-14
        )
