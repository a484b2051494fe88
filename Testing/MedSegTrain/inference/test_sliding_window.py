"""Window planning (L3, B8): hand-computed grids, padding to a multiple of 8, 2D slice windows."""

from __future__ import annotations

import pytest
import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.inference.sliding_window import plan_windows


def _starts(plan, axis):
    return sorted({w[axis].start for w in plan.windows})


def test_sliding_grid_by_hand():
    # y: 10 voxels, patch 4, overlap 0.5 -> step 2 -> starts 0, 2, 4, 6 (6 + 4 = 10, flush with the end)
    # x: 11 voxels, patch 4 -> starts 0, 2, 4, 6, then 8 moved back to 7 so the window ends at 11
    plan = plan_windows((4, 10, 11), "sliding_window", (4, 4, 4), overlap=0.5)
    assert _starts(plan, 0) == [0]
    assert _starts(plan, 1) == [0, 2, 4, 6]
    assert _starts(plan, 2) == [0, 2, 4, 6, 7]
    assert len(plan.windows) == 1 * 4 * 5
    assert plan.padding == ((0, 0), (0, 0), (0, 0))
    assert plan.gaussian


def test_sliding_grid_with_an_asymmetric_overlap():
    """Overlap 0.25: step int(4 x 0.75) = 3 (the mutation 'step from the overlap' gives step 1, and
    0.5 hides it because 0.5 = 1 - 0.5; mutation ``infer-window-step-from-overlap``)."""
    # y: 10 voxels -> starts 0, 3, 6 (6 + 4 = 10); x: 11 voxels -> 0, 3, 6, then 9 moved back to 7
    plan = plan_windows((4, 10, 11), "sliding_window", (4, 4, 4), overlap=0.25)
    assert _starts(plan, 1) == [0, 3, 6]
    assert _starts(plan, 2) == [0, 3, 6, 7]
    assert len(plan.windows) == 3 * 4
    # overlap 0.75: step int(8 x 0.25) = 2 on a 12-voxel axis -> 0, 2, 4
    assert _starts(plan_windows((8, 8, 12), "sliding_window", (8, 8, 8), overlap=0.75), 2) == [0, 2, 4]


def test_small_volume_is_padded_symmetrically_to_the_patch():
    plan = plan_windows((3, 8, 8), "sliding_window", (6, 8, 8), overlap=0.5)
    assert plan.padding == ((1, 2), (0, 0), (0, 0))
    assert plan.padded_shape == (6, 8, 8)
    assert len(plan.windows) == 1
    assert plan.crop == (slice(1, 4), slice(0, 8), slice(0, 8))


def test_gaussian_importance_by_hand():
    plan = plan_windows((8, 8, 8), "sliding_window", (1, 1, 4), overlap=0.5)
    w = plan.importance()[0, 0]
    # MONAI: centre (n-1)/2 = 1.5, sigma = 0.125 * 4 = 0.5; weights exp(-d²/(2 sigma²)), clamped to >= 1e-3
    expected = torch.exp(-torch.tensor([1.5, 0.5, 0.5, 1.5]) ** 2 / (2 * 0.25)).clamp_min(1e-3)
    torch.testing.assert_close(w, expected)


def test_whole_volume_padded_to_multiple_of_8():
    plan = plan_windows((13, 20, 17), "whole")
    assert plan.patch == (16, 24, 24)
    assert plan.padding == ((1, 2), (2, 2), (3, 4))
    assert len(plan.windows) == 1 and not plan.gaussian
    assert plan_windows((16, 24, 8), "whole").padding == ((0, 0), (0, 0), (0, 0))


def test_slices2d_windows_are_one_slice_deep():
    plan = plan_windows((5, 30, 20), "slices2d")
    assert plan.patch == (1, 32, 24)
    assert _starts(plan, 0) == [0, 1, 2, 3, 4]
    assert len(plan.windows) == 5
    patched = plan_windows((5, 30, 20), "slices2d", (16, 16), overlap=0.5)
    assert patched.patch == (1, 16, 16) and _starts(patched, 1) == [0, 8, 14]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"mode": "tiles"}, "inference mode"),
    ({"mode": "sliding_window"}, "patch_size"),
    ({"mode": "sliding_window", "patch_size": (4, 4)}, "3 positive sizes"),
    ({"mode": "sliding_window", "patch_size": (4, 4, 4), "overlap": 1.0}, "overlap"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(MedSegError, match=message):
        plan_windows((8, 8, 8), **kwargs)
