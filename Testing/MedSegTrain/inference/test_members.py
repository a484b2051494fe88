"""Members as the runner sees them: slice-wise 2D networks and lazily loaded members."""

from __future__ import annotations

import torch
from torch import nn

from MedSegTrain.inference.members import LazyMember, SliceWise
from MedSegTrain.inference.runner import run_ensemble
from MedSegTrain.inference.sliding_window import plan_windows
from MedSegTrain.inference.tta import tta_variants


class _Logged(nn.Module):
    """A 1x1x1 conv that logs its forwards and its release."""

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__()
        self.name, self.log = name, log
        self.conv = nn.Conv3d(1, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.log.append(f"{self.name} forward")
        return self.conv(x)

    def release(self) -> None:
        self.log.append(f"{self.name} release")


def _lazy(name: str, log: list[str]) -> LazyMember:
    def build() -> nn.Module:
        log.append(f"{name} build")
        return _Logged(name, log)

    return LazyMember(build)


def test_a_lazy_member_builds_once_per_pass_and_release_drops_it():
    """Built on first forward, reused, dropped by release (the inner release runs too), rebuilt after."""
    log: list[str] = []
    member = _lazy("a", log)
    assert log == [] and list(member.parameters()) == []  # nothing built, nothing registered
    x = torch.randn(1, 1, 2, 2, 2)
    member(x)
    member(x)
    first = member.module()
    member.release()
    member(x)
    assert log == ["a build", "a forward", "a forward", "a release", "a build", "a forward"]
    assert member.module() is not first


def test_the_runner_holds_one_lazy_member_at_a_time():
    """Member b is built only after member a's pass has ended and a was released (an eager build of
    every member, or a missing release, would put 'b build' earlier)."""
    log: list[str] = []
    plan = plan_windows((6, 12, 12), "sliding_window", patch_size=(6, 8, 8), overlap=0.25)
    n = len(plan.windows)
    run_ensemble(torch.randn(1, 6, 12, 12), [_lazy("a", log), _lazy("b", log)], plan, tta_variants(2),
                 "softmax", batch_size=2)
    assert log == (["a build"] + ["a forward"] * n + ["a release"]
                   + ["b build"] + ["b forward"] * n + ["b release"])


def test_slice_wise_applies_the_2d_network_to_every_axial_slice():
    """Against a loop over slices by hand, with z != y != x so a wrong permute changes the shape."""
    torch.manual_seed(0)
    net2d = nn.Conv2d(2, 3, 3, padding=1)
    batch = torch.randn(2, 2, 3, 5, 7)
    expected = torch.stack([net2d(batch[:, :, z]) for z in range(3)], dim=2)
    torch.testing.assert_close(SliceWise(net2d)(batch), expected)
