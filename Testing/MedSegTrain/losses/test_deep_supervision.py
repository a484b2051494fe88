"""Deep supervision (B3): heads, resized targets, sum/mean reductions and weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.losses import DeepSupervisionLoss, get_loss
from MedSegTrain.losses.deep_supervision import resize_target


class Recorder(torch.nn.Module):
    """A stand-in loss that records the targets it sees and returns a fixed value per head."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[torch.Tensor] = []

    def forward(self, logits, target):
        self.targets.append(target)
        return logits.sum() * 0 + float(len(self.targets))  # 1, 2, 3 ... per head


def _heads(generator, n=2, k=3, size=8):
    return [
        torch.randn(n, k, s, s, s, generator=generator, dtype=torch.float64)
        for s in (size, size // 2, size // 4)
    ]


def test_sum_of_head_losses_with_nearest_label_targets():
    gen = torch.Generator().manual_seed(0)
    heads = _heads(gen)
    labels = torch.randint(0, 3, (2, 1, 8, 8, 8), generator=gen)
    dice = get_loss("dice")
    # nearest-exact for a factor 2^j picks voxel centres: index 2^j * i + 2^(j-1) (i.e. 1::2, 2::4)
    expected = dice(heads[0], labels) + dice(heads[1], labels[..., 1::2, 1::2, 1::2])
    expected = expected + dice(heads[2], labels[..., 2::4, 2::4, 2::4])
    got = DeepSupervisionLoss(dice)(heads, labels)
    assert float(got) == pytest.approx(float(expected), rel=1e-12)


def test_mean_reduction_and_weights():
    recorder = Recorder()
    heads = _heads(torch.Generator().manual_seed(1))
    labels = torch.zeros(2, 1, 8, 8, 8, dtype=torch.long)
    assert float(DeepSupervisionLoss(recorder)(heads, labels)) == pytest.approx(1 + 2 + 3)
    recorder.targets.clear()
    assert float(DeepSupervisionLoss(recorder, reduction="mean")(heads, labels)) == pytest.approx(2.0)
    recorder.targets.clear()
    weighted = DeepSupervisionLoss(recorder, weights=[1.0, 0.5, 0.25], reduction="mean")(heads, labels)
    assert float(weighted) == pytest.approx((1 + 0.5 * 2 + 0.25 * 3) / 1.75)


def test_head_of_target_size_gets_the_target_itself():
    recorder = Recorder()
    heads = _heads(torch.Generator().manual_seed(2))
    labels = torch.zeros(2, 1, 8, 8, 8, dtype=torch.long)
    DeepSupervisionLoss(recorder)(heads, labels)
    assert recorder.targets[0] is labels
    assert [tuple(t.shape[2:]) for t in recorder.targets] == [(8, 8, 8), (4, 4, 4), (2, 2, 2)]
    assert recorder.targets[1].dtype == torch.long


def test_soft_targets_are_area_averaged_and_stay_on_the_simplex():
    gen = torch.Generator().manual_seed(3)
    soft = torch.softmax(torch.randn(1, 3, 4, 6, generator=gen, dtype=torch.float64), dim=1)
    resized = resize_target(soft, (2, 3), num_channels=3)
    expected = soft.numpy().reshape(1, 3, 2, 2, 3, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(resized.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(resized.sum(dim=1).numpy(), 1.0, rtol=1e-12)


def test_soft_targets_grow_by_linear_interpolation():
    soft = torch.tensor([[[0.0, 1.0]]], dtype=torch.float64)
    np.testing.assert_allclose(resize_target(soft, (4,), num_channels=1).numpy(), [[[0.0, 0.25, 0.75, 1.0]]])


def test_float_label_map_uses_nearest():
    labels = torch.tensor([[[[0.0, 2.0, 1.0, 1.0], [2.0, 2.0, 0.0, 1.0]]]])  # (1, 1, 2, 4) for 3 classes
    resized = resize_target(labels, (1, 2), num_channels=3)
    assert resized.tolist() == [[[[2.0, 1.0]]]]


def test_gradient_reaches_every_head():
    heads = [h.requires_grad_(True) for h in _heads(torch.Generator().manual_seed(4))]
    labels = torch.randint(0, 3, (2, 1, 8, 8, 8), generator=torch.Generator().manual_seed(5))
    DeepSupervisionLoss(get_loss("tversky")).forward(heads, labels).backward()
    assert all(h.grad is not None and h.grad.abs().sum() > 0 for h in heads)


def test_single_tensor_is_one_head():
    logits = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    labels = torch.randint(0, 2, (1, 1, 4, 4), generator=torch.Generator().manual_seed(6))
    ce = get_loss("ce")
    assert float(DeepSupervisionLoss(ce)(logits, labels)) == pytest.approx(float(ce(logits, labels)))


def test_errors():
    ce = get_loss("ce")
    heads = _heads(torch.Generator().manual_seed(7))
    labels = torch.zeros(2, 1, 8, 8, 8, dtype=torch.long)
    with pytest.raises(MedSegError, match="option reduction must be one of sum, mean"):
        DeepSupervisionLoss(ce, reduction="max")
    with pytest.raises(MedSegError, match="2 weights given for 3 output heads"):
        DeepSupervisionLoss(ce, weights=[1, 1])(heads, labels)
    with pytest.raises(MedSegError, match="option weights must lie in"):
        DeepSupervisionLoss(ce, weights=[1, -1, 1])
    with pytest.raises(MedSegError, match="must not all be zero"):
        DeepSupervisionLoss(ce, weights=[0, 0])
    with pytest.raises(MedSegError, match="got no output heads"):
        DeepSupervisionLoss(ce)([], labels)
