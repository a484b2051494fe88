"""compute_metrics vs MONAI and DeepMind's surface-distance on CT-sized masks (X10, B10).

Run: ``python -m pytest Testing/benchmarks/bench_metrics.py -m benchmark -s``

Peers, same pair, same run, one thread each:
* MONAI: ``compute_hausdorff_distance(percentile=95)`` + ``compute_average_surface_distance(
  symmetric=True)`` + ``compute_dice`` — the same convention, so the values must agree to 1e-3 mm.
* surface-distance: ``compute_surface_distances`` + ``compute_robust_hausdorff(95)`` +
  ``compute_average_surface_distance`` — surfel-area weighted, so its values differ by design and
  are printed for information.
Also timed: the two design choices of ``MedSegTrain.metrics.surface`` against the library
alternatives (scipy erosion vs shifted ANDs; cropped distance transform vs KD-tree).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from scipy import ndimage

from MedSegTrain.metrics import compute_metrics, mask_surface
from MedSegTrain.metrics.surface import union_bounding_box

pytestmark = pytest.mark.benchmark

CT_SHAPE = (160, 384, 384)  # (z, y, x)
CT_SPACING = (2.5, 0.8, 0.8)  # mm, array order
SIZES = [((80, 192, 192), (5.0, 1.6, 1.6)), (CT_SHAPE, CT_SPACING), ((200, 512, 512), (2.0, 0.6, 0.6))]


def organ_pair(shape: tuple[int, int, int], spacing: tuple[float, float, float],
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Reference: liver-, spleen- and kidney-sized smooth deformed blobs in the same field of view
    (~400 x 307 x 307 mm whatever the sampling); prediction: its boundary moved by a smooth field
    of a few mm plus one small false-positive blob, as a good network would give (Dice ~0.97)."""
    axes = [np.arange(n, dtype=np.float32) * s for n, s in zip(shape, spacing, strict=True)]
    extent = np.array([n * s for n, s in zip(shape, spacing, strict=True)])
    low = (6, 12, 12)

    def smooth_field(amplitude: float) -> np.ndarray:
        coarse = ndimage.gaussian_filter(rng.standard_normal(low).astype(np.float32), 1.0)
        zoom = [n / c for n, c in zip(shape, low, strict=True)]
        return ndimage.zoom(coarse, zoom, order=1)[: shape[0], : shape[1], : shape[2]] * amplitude

    def blob(centre_frac, radii_mm, deform):
        centre = np.asarray(centre_frac) * extent
        q = sum(((a - c) / r) ** 2 for a, c, r in zip(
            (axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]), centre, radii_mm,
            strict=True))
        return q < 1 + deform

    ref_deform, pred_deform = smooth_field(0.3), smooth_field(0.3)
    organs = [((0.5, 0.35, 0.35), (70, 90, 100)),   # liver ~1.9 L
              ((0.5, 0.35, 0.72), (45, 50, 35)),    # spleen ~0.3 L
              ((0.55, 0.65, 0.3), (50, 30, 28)),    # kidney ~0.18 L
              ((0.55, 0.65, 0.7), (50, 30, 28))]    # kidney
    ref = np.zeros(shape, bool)
    pred = np.zeros(shape, bool)
    for centre, radii in organs:
        ref |= blob(centre, radii, ref_deform)
        pred |= blob(centre, radii, ref_deform + pred_deform)
    pred |= blob((0.3, 0.8, 0.5), (8, 8, 8), 0.0)  # a false positive far away
    return pred, ref


def best_time(function: Callable[[], object], repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def monai_metrics(pred: np.ndarray, ref: np.ndarray, spacing) -> dict[str, float]:
    import torch
    from monai.metrics import compute_average_surface_distance, compute_dice, compute_hausdorff_distance

    p = torch.from_numpy(pred)[None, None]
    r = torch.from_numpy(ref)[None, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hd95 = compute_hausdorff_distance(p, r, include_background=True, percentile=95, spacing=spacing)
        msd = compute_average_surface_distance(p, r, include_background=True, symmetric=True, spacing=spacing)
        dice = compute_dice(p.float(), r.float(), include_background=True)
    return {"dice": float(dice), "hd95": float(hd95), "msd": float(msd)}


def deepmind_metrics(pred: np.ndarray, ref: np.ndarray, spacing) -> dict[str, float]:
    import surface_distance

    distances = surface_distance.compute_surface_distances(ref, pred, spacing)
    gt_to_pred, pred_to_gt = surface_distance.compute_average_surface_distance(distances)
    dice = surface_distance.compute_dice_coefficient(ref, pred)
    return {"dice": float(dice), "hd95": float(surface_distance.compute_robust_hausdorff(distances, 95)),
            "msd": float((gt_to_pred + pred_to_gt) / 2)}


@pytest.fixture(scope="module")
def threads():
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_ct_sized_pair_against_monai_and_surface_distance(threads):
    pred, ref = organ_pair(CT_SHAPE, CT_SPACING, np.random.default_rng(0))
    ours_t, ours = best_time(lambda: compute_metrics(pred, ref, CT_SPACING), repeats=5)
    monai_metrics(np.ones((8, 8, 8), bool), np.ones((8, 8, 8), bool), (1, 1, 1))  # warm lazy imports
    monai_t, monai = best_time(lambda: monai_metrics(pred, ref, CT_SPACING), repeats=2)
    dm_t, dm = best_time(lambda: deepmind_metrics(pred, ref, CT_SPACING), repeats=2)
    print(f"\nCT pair {CT_SHAPE} spacing {CT_SPACING} mm: ref {ref.sum()} voxels, dice {ours['dice']:.4f}")
    print(f"{'':18}{'time s':>9}{'ratio':>8}{'dice':>9}{'hd95 mm':>10}{'msd mm':>9}")
    for name, seconds, values in (("MedSegTrain", ours_t, ours), ("MONAI 1.6", monai_t, monai),
                                  ("surface-distance", dm_t, dm)):
        print(f"{name:18}{seconds:9.3f}{seconds / ours_t:8.1f}{values['dice']:9.4f}"
              f"{values['hd95']:10.3f}{values['msd']:9.3f}")
    assert ours["hd95"] == pytest.approx(monai["hd95"], abs=1e-3)
    assert ours["msd"] == pytest.approx(monai["msd"], abs=1e-3)
    assert ours["dice"] == pytest.approx(monai["dice"], abs=1e-6)
    assert monai_t / ours_t >= 5, "target: at least 5x faster than MONAI"
    assert dm_t / ours_t >= 2, "target: at least 2x faster than surface-distance"


def test_cost_grows_with_volume_size(threads):
    monai_metrics(np.ones((8, 8, 8), bool), np.ones((8, 8, 8), bool), (1, 1, 1))  # warm lazy imports
    print(f"\n{'shape':>16}{'voxels M':>10}{'surface k':>11}{'ours s':>9}{'MONAI s':>9}{'s-d s':>8}"
          f"{'MONAI x':>10}{'s-d x':>8}")
    for shape, spacing in SIZES:
        pred, ref = organ_pair(shape, spacing, np.random.default_rng(1))
        ours_t, ours = best_time(lambda p=pred, r=ref, s=spacing: compute_metrics(p, r, s), repeats=3)
        monai_t, monai = best_time(lambda p=pred, r=ref, s=spacing: monai_metrics(p, r, s), repeats=1)
        dm_t, _ = best_time(lambda p=pred, r=ref, s=spacing: deepmind_metrics(p, r, s), repeats=1)
        n_surface = int(mask_surface(ref).sum())
        print(f"{shape!s:>16}{pred.size / 1e6:10.1f}{n_surface / 1e3:11.1f}{ours_t:9.3f}"
              f"{monai_t:9.3f}{dm_t:8.3f}{monai_t / ours_t:10.1f}{dm_t / ours_t:8.1f}")
        assert ours["hd95"] == pytest.approx(monai["hd95"], abs=1e-3)
        assert ours["msd"] == pytest.approx(monai["msd"], abs=1e-3)


def test_design_choices_against_library_alternatives():
    pred, ref = organ_pair(CT_SHAPE, CT_SPACING, np.random.default_rng(0))
    box = union_bounding_box(pred, ref)
    pred_box, ref_box = np.pad(pred[box], 1), np.pad(ref[box], 1)
    cross = ndimage.generate_binary_structure(3, 1)
    ours_t, ours_surface = best_time(lambda: mask_surface(pred_box), repeats=5)
    scipy_t, scipy_surface = best_time(lambda: pred_box ^ ndimage.binary_erosion(pred_box, cross), repeats=5)
    np.testing.assert_array_equal(ours_surface, scipy_surface)
    print(f"\nsurface on the {pred_box.shape} union box: shifted ANDs {ours_t * 1e3:.1f} ms, "
          f"scipy binary_erosion {scipy_t * 1e3:.1f} ms ({scipy_t / ours_t:.1f}x)")

    sampling = np.asarray(CT_SPACING)
    pred_surface, ref_surface = mask_surface(pred_box), mask_surface(ref_box)

    def cropped_edt():
        to_ref = ndimage.distance_transform_edt(~ref_surface, sampling=sampling)[pred_surface]
        to_pred = ndimage.distance_transform_edt(~pred_surface, sampling=sampling)[ref_surface]
        return max(np.percentile(to_ref, 95), np.percentile(to_pred, 95))

    edt_t, edt_hd95 = best_time(cropped_edt, repeats=2)
    full_t, metrics = best_time(lambda: compute_metrics(pred, ref, CT_SPACING), repeats=3)
    assert metrics["hd95"] == pytest.approx(edt_hd95, abs=1e-9)
    print(f"distances: cropped EDT (2 transforms) {edt_t * 1e3:.0f} ms vs the whole compute_metrics "
          f"with KD-trees {full_t * 1e3:.0f} ms ({edt_t / full_t:.1f}x)")
