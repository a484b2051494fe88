"""The auto plan: 2D vs 3D, patch size, spacing and batch from image headers."""

from __future__ import annotations

import numpy as np

from MedSegTrain.training.planning import fit_patch, plan_from_headers


def test_isotropic_small_volumes_get_3d_whole_patches() -> None:
    # hippocampus-like: (x, y, z) ~ 35 x 51 x 36 at 1 mm
    sizes = [(35, 51, 36), (33, 49, 34), (37, 53, 38)]
    plan = plan_from_headers(sizes, [(1.0, 1.0, 1.0)] * 3, "MRI", 1, 3, "cpu")
    assert plan["patch"]["mode"] == "3d"
    assert plan["patch"]["size"] == [40, 56, 40]  # median (z, y, x) = (36, 51, 35) rounded up to 8
    assert plan["preprocessing"]["target_spacing"] is None  # already uniform: no resampling
    assert plan["preprocessing"]["normalization"] == "zscore"
    assert plan["patch"]["batch_size"] == 400_000 // (40 * 56 * 40)


def test_thick_slices_get_2d_and_median_spacing() -> None:
    sizes = [(512, 512, 30), (512, 512, 40)]
    spacings = [(0.7, 0.7, 5.0), (0.8, 0.8, 5.0)]
    plan = plan_from_headers(sizes, spacings, "CT", 1, 2, "cpu")
    assert plan["patch"]["mode"] == "2d"
    assert plan["preprocessing"]["target_spacing"] == [0.75, 0.75, 5.0]
    assert plan["preprocessing"]["window"] == "ct-percentile"  # C1
    assert np.prod(plan["patch"]["size"]) <= 256**2
    assert all(s % 16 == 0 for s in plan["patch"]["size"])


def test_fit_patch_shrinks_the_longest_physical_axis() -> None:
    assert fit_patch([100, 100, 100], [1, 1, 1], 64**3) == [64, 64, 64]
    # z at 3 mm is physically 300 mm long: it shrinks first (to 32 x 3 = 96 mm), then y and x to
    # 96 mm, then the tie goes to z again (24 slices): 24 * 96 * 96 = 221184 <= 64^3.
    assert fit_patch([100, 100, 100], [3.0, 1.0, 1.0], 64**3) == [24, 96, 96]


def test_target_spacing_is_the_median_not_the_mean() -> None:
    """Three cases, in-plane 0.7 / 0.8 / 1.5 mm: median 0.8, mean 1.0. Kills ``train-plan-mean-spacing``."""
    sizes = [(512, 512, 30), (512, 512, 40), (256, 256, 35)]
    spacings = [(0.7, 0.7, 5.0), (0.8, 0.8, 5.0), (1.5, 1.5, 4.0)]
    plan = plan_from_headers(sizes, spacings, "CT", 1, 2, "cpu")
    assert plan["preprocessing"]["target_spacing"] == [0.8, 0.8, 5.0]
