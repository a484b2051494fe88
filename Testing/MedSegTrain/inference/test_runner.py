"""The member x variant runner: equals MONAI's sliding_window_inference and the naive loop,
is exact for equivariant networks, averages members like a hand computation, bounds memory."""

from __future__ import annotations

import pytest
import torch
from monai.inferers import sliding_window_inference
from monai.networks.nets import UNet
from torch import nn

from MedSegTrain.errors import MedSegError
from MedSegTrain.inference.members import SliceWise
from MedSegTrain.inference.runner import count_steps, run_ensemble
from MedSegTrain.inference.sliding_window import plan_windows
from MedSegTrain.inference.tta import tta_variants


class Pointwise(nn.Module):
    """A 1x1x1 convolution: exactly equivariant to every flip and rotation."""

    def __init__(self, c_in: int, k: int, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv3d(c_in, k, 1)

    def forward(self, x):
        return self.conv(x)


class ConstantLogits(nn.Module):
    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits)

    def forward(self, x):
        return self.logits.view(1, -1, 1, 1, 1).expand(x.shape[0], -1, *x.shape[2:]).clone()


def _unet(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return UNet(3, 2, 3, (4, 8), (2,), num_res_units=0).eval()


def _softmax(net):
    return lambda t: torch.softmax(net(t), 1)


def test_single_member_equals_monai_sliding_window_inference():
    x = torch.randn(2, 12, 22, 19, generator=torch.Generator().manual_seed(0))
    net = _unet(0)
    plan = plan_windows(x.shape[1:], "sliding_window", (8, 12, 12), overlap=0.5)
    ours = run_ensemble(x, [net], plan, tta_variants(0), "softmax", batch_size=3).mean
    with torch.no_grad():
        ref = sliding_window_inference(x[None], (8, 12, 12), 4, _softmax(net), overlap=0.5,
                                       mode="gaussian")[0]
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)


def _flip_then_rotate(t: torch.Tensor, flips: tuple[str, ...], k: int) -> torch.Tensor:
    """B8's augmentation written with torch.flip/torch.rot90 directly (not the module's own forward)."""
    dims = [{"z": -3, "y": -2, "x": -1}[a] for a in flips]
    return torch.rot90(torch.flip(t, dims) if dims else t, k, dims=(-2, -1))


def _unrotate_then_flip(t: torch.Tensor, flips: tuple[str, ...], k: int) -> torch.Tensor:
    dims = [{"z": -3, "y": -2, "x": -1}[a] for a in flips]
    t = torch.rot90(t, -k, dims=(-2, -1))
    return torch.flip(t, dims) if dims else t


def test_ensemble_with_tta_equals_naive_loop():
    """Members x 16 variants through MONAI separately, then averaged (the naive loop), with the flips
    and rotations written here with torch.flip/rot90 rather than taken from the module under test,
    and overlap 0.25 (0.5 equals 1 - 0.5 and hid a step computed from the overlap). The grid is one
    that every flip and rotation maps onto itself (starts 0, 6 on 14 voxels): the runner shares one
    window plan between the variants, MONAI plans each transformed volume anew."""
    x = torch.randn(2, 8, 14, 14, generator=torch.Generator().manual_seed(1))
    nets = [_unet(1), _unet(2)]
    variants = tta_variants(16)
    plan = plan_windows(x.shape[1:], "sliding_window", (8, 8, 8), overlap=0.25)
    ours = run_ensemble(x, nets, plan, variants, "softmax", batch_size=8).mean
    naive = torch.zeros_like(ours)
    with torch.no_grad():
        for net in nets:
            for v in variants:
                out = sliding_window_inference(_flip_then_rotate(x[None], v.flips, v.rot90), (8, 8, 8), 2,
                                               _softmax(net), overlap=0.25, mode="gaussian")
                naive += _unrotate_then_flip(out, v.flips, v.rot90)[0]
    torch.testing.assert_close(ours, naive / (len(nets) * len(variants)), atol=1e-6, rtol=0)


@pytest.mark.parametrize("mode", ["sliding_window", "whole"])
def test_equivariant_network_gives_the_same_output_with_and_without_tta(mode):
    x = torch.randn(3, 10, 12, 12, generator=torch.Generator().manual_seed(2))
    nets = [Pointwise(3, 4, 0), Pointwise(3, 4, 1)]
    plan = plan_windows(x.shape[1:], mode, (6, 8, 8) if mode == "sliding_window" else None)
    plain = run_ensemble(x, nets, plan, tta_variants(0), "softmax").mean
    tta = run_ensemble(x, nets, plan, tta_variants(16), "softmax").mean
    torch.testing.assert_close(tta, plain, atol=1e-6, rtol=0)
    # and the pointwise network needs no blending: softmax of the conv, voxel by voxel
    with torch.no_grad():
        direct = sum(torch.softmax(n(x[None]), 1)[0] for n in nets) / 2
    torch.testing.assert_close(plain, direct, atol=1e-6, rtol=0)


def test_average_and_variance_equal_hand_computation():
    # softmax([0, ln 3]) = [0.25, 0.75]; softmax([ln 3, 0]) = [0.75, 0.25]; softmax([0, 0]) = [0.5, 0.5]
    ln3 = float(torch.log(torch.tensor(3.0)))
    nets = [ConstantLogits([0.0, ln3]), ConstantLogits([ln3, 0.0]), ConstantLogits([0.0, 0.0])]
    x = torch.zeros(1, 9, 9, 9)
    plan = plan_windows(x.shape[1:], "sliding_window", (5, 5, 5), overlap=0.5)
    out = run_ensemble(x, nets, plan, tta_variants(2), "softmax", second_moment=True)
    assert out.n_predictions == 6
    torch.testing.assert_close(out.mean[:, 4, 4, 4], torch.tensor([0.5, 0.5]))
    # channel 0 values 0.25, 0.75, 0.5 -> variance ((0.25)² + (0.25)² + 0) / 3 = 0.041666...
    torch.testing.assert_close(out.variance()[:, 0, 8, 3], torch.tensor([0.125 / 3, 0.125 / 3]))


def test_sigmoid_members_average_probabilities_not_logits():
    nets = [ConstantLogits([2.0]), ConstantLogits([-1.0])]
    x = torch.zeros(1, 4, 4, 4)
    out = run_ensemble(x, nets, plan_windows(x.shape[1:], "whole"), tta_variants(0), "sigmoid").mean
    expected = (torch.sigmoid(torch.tensor(2.0)) + torch.sigmoid(torch.tensor(-1.0))) / 2
    torch.testing.assert_close(out, torch.full((1, 4, 4, 4), float(expected)))


class NeedsMultipleOf8(nn.Module):
    def forward(self, x):
        assert all(s % 8 == 0 for s in x.shape[2:]), x.shape
        return torch.cat([x[:, :1], -x[:, :1]], 1)


def test_whole_mode_pads_to_multiple_of_8_and_crops_back():
    x = torch.randn(1, 5, 11, 13, generator=torch.Generator().manual_seed(3))
    out = run_ensemble(x, [NeedsMultipleOf8()], plan_windows(x.shape[1:], "whole"), tta_variants(16),
                       "softmax").mean
    assert out.shape == (2, 5, 11, 13)
    torch.testing.assert_close(out[0], torch.sigmoid(2 * x[0]), atol=1e-6, rtol=0)


def test_2d_model_runs_slice_by_slice():
    torch.manual_seed(4)
    net2d = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 3, padding=1)).eval()
    x = torch.randn(1, 6, 16, 16, generator=torch.Generator().manual_seed(4))
    plan = plan_windows(x.shape[1:], "slices2d")
    out = run_ensemble(x, [SliceWise(net2d)], plan, tta_variants(0), "softmax").mean
    with torch.no_grad():
        expected = torch.stack([torch.softmax(net2d(x[:, z][None]), 1)[0] for z in range(6)], dim=1)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_progress_steps_and_deep_supervision_lists():
    class ListOutput(nn.Module):
        def forward(self, x):
            return [torch.zeros(x.shape[0], 2, *x.shape[2:]), torch.ones(1)]

    x = torch.zeros(1, 8, 8, 8)
    plan = plan_windows(x.shape[1:], "sliding_window", (4, 4, 4), overlap=0.5)
    steps = []
    out = run_ensemble(x, [ListOutput(), ListOutput()], plan, tta_variants(4), "softmax", batch_size=8,
                       on_step=steps.append)
    assert len(steps) == count_steps(plan, 2, 4, 8)
    torch.testing.assert_close(out.mean, torch.full((2, 8, 8, 8), 0.5))


def test_a_network_with_the_wrong_output_shape_is_reported():
    class Shrinks(nn.Module):
        def forward(self, x):
            return x[..., 1:]

    x = torch.zeros(1, 8, 8, 8)
    with pytest.raises(MedSegError, match="expected logits"):
        run_ensemble(x, [Shrinks()], plan_windows(x.shape[1:], "whole"), tta_variants(0), "softmax")


class _Logged(nn.Module):
    """A 1x1x1 conv that writes each forward and release into a shared log."""

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__()
        self.name, self.log = name, log
        self.conv = nn.Conv3d(1, 2, 1)

    def forward(self, x):
        self.log.append(f"{self.name} forward")
        return self.conv(x)

    def release(self) -> None:
        self.log.append(f"{self.name} release")


def test_members_run_one_after_another_and_each_is_released_after_its_pass():
    """Only one compiled member may be held at a time: a window-major loop (every member per
    window) or a missing or early release would interleave the log."""
    log: list[str] = []
    members = [_Logged("a", log), _Logged("b", log)]
    plan = plan_windows((6, 12, 12), "sliding_window", patch_size=(6, 8, 8), overlap=0.5)
    assert len(plan.windows) == 4
    run_ensemble(torch.randn(1, 6, 12, 12), members, plan, tta_variants(2), "softmax", batch_size=2)
    forwards_per_member = len(plan.windows)  # 2 variants batched together, one window per call
    assert log == (["a forward"] * forwards_per_member + ["a release"]
                   + ["b forward"] * forwards_per_member + ["b release"])
