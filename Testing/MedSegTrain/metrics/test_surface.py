"""Surfaces and surface distances (X10, B10): scipy erosion, hand-computed distances, MONAI."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import ndimage

from MedSegTrain.errors import MedSegError
from MedSegTrain.metrics.surface import mask_surface, surface_distances, union_bounding_box


def _random_masks(rng: np.random.Generator, shape: tuple[int, ...], smooth: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal(shape), smooth)
    return field > 0.3 * field.std()


@pytest.mark.parametrize("shape", [(9, 11), (7, 8, 9)])
def test_surface_equals_mask_xor_scipy_erosion_with_background_border(shape):
    rng = np.random.default_rng(1)
    for smooth in (0.0, 1.0, 2.0):  # noise touches every border; smooth blobs touch some
        mask = _random_masks(rng, shape, smooth)
        cross = ndimage.generate_binary_structure(len(shape), 1)
        expected = mask ^ ndimage.binary_erosion(mask, cross, border_value=0)
        np.testing.assert_array_equal(mask_surface(mask), expected)


def test_full_array_surface_is_its_border_ring():
    # Outside the array is background: a 4x5 all-foreground mask keeps only its 2x3 core.
    expected = np.ones((4, 5), bool)
    expected[1:3, 1:4] = False
    np.testing.assert_array_equal(mask_surface(np.ones((4, 5), bool)), expected)


def test_union_bounding_box():
    a = np.zeros((5, 6, 7), bool)
    b = np.zeros((5, 6, 7), bool)
    a[1, 2, 3] = True
    b[3, 1, 5] = True
    assert union_bounding_box(a, b) == (slice(1, 4), slice(1, 3), slice(3, 6))
    assert union_bounding_box(np.zeros_like(a), np.zeros_like(a)) is None


def test_line_against_one_voxel_with_anisotropic_spacing():
    # ref = first voxel of a 1x5 row, pred = the whole row; every pred voxel is surface.
    # spacing (y, x) = (1, 2): D_PR = 0, 2, 4, 6, 8 mm; D_RP = 0.
    ref = np.array([[1, 0, 0, 0, 0]], bool)
    pred = np.ones((1, 5), bool)
    distances = surface_distances(pred, ref, spacing=(1.0, 2.0))
    np.testing.assert_allclose(np.sort(distances.pred_to_ref), [0, 2, 4, 6, 8])
    np.testing.assert_allclose(distances.ref_to_pred, [0])
    assert distances.hd() == pytest.approx(8.0)
    # linear p95 of (0,2,4,6,8): position 0.95*4 = 3.8 -> 6 + 0.8*2 = 7.6
    assert distances.hd_percentile(95) == pytest.approx(7.6)
    # msd = (0+2+4+6+8 + 0) / (5 + 1) = 20/6
    assert distances.msd() == pytest.approx(20 / 6)


def test_cube_against_its_centre_voxel():
    # ref = 3x3x3 cube: 26 surface voxels (only the centre is interior); pred = the centre.
    # spacing (z, y, x) = (2, 1, 1). D_PR = [1] (nearest: a y/x face neighbour).
    # D_RP: 4 faces at 1, 2 faces at 2, 4 yx-edges at sqrt2, 8 z-edges at sqrt5, 8 corners at sqrt6.
    ref = np.zeros((5, 5, 5), bool)
    ref[1:4, 1:4, 1:4] = True
    pred = np.zeros_like(ref)
    pred[2, 2, 2] = True
    distances = surface_distances(pred, ref, spacing=(2.0, 1.0, 1.0))
    d_rp = np.array([1] * 4 + [2] * 2 + [math.sqrt(2)] * 4 + [math.sqrt(5)] * 8 + [math.sqrt(6)] * 8)
    np.testing.assert_allclose(np.sort(distances.ref_to_pred), np.sort(d_rp))
    assert distances.hd() == pytest.approx(math.sqrt(6))
    # sorted D_RP positions 18..25 are sqrt6, p95 position 0.95*25 = 23.75 -> sqrt6
    assert distances.hd_percentile(95) == pytest.approx(math.sqrt(6))
    assert distances.msd() == pytest.approx((1 + d_rp.sum()) / 27)


def test_empty_masks():
    empty = np.zeros((4, 4), bool)
    one = empty.copy()
    one[1, 1] = True
    both = surface_distances(empty, empty)
    assert (both.hd(), both.hd_percentile(), both.msd()) == (0.0, 0.0, 0.0)
    for pred, ref in ((one, empty), (empty, one)):
        single = surface_distances(pred, ref)
        assert single.hd() == single.hd_percentile() == single.msd() == math.inf


def _monai(pred: np.ndarray, ref: np.ndarray, spacing: tuple[float, ...]) -> tuple[float, float, float]:
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance

    p, r = pred[None, None], ref[None, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hd = compute_hausdorff_distance(p, r, include_background=True, spacing=spacing)
        hd95 = compute_hausdorff_distance(p, r, include_background=True, percentile=95, spacing=spacing)
        msd = compute_average_surface_distance(p, r, include_background=True, symmetric=True, spacing=spacing)
    return float(hd), float(hd95), float(msd)


@pytest.mark.parametrize(
    ("shape", "spacing"),
    [((40, 37), (0.7, 1.9)), ((18, 30, 27), (3.0, 0.8, 1.1)), ((12, 20, 24), (1.5, 0.6, 0.6))],
)
def test_agrees_with_monai_on_random_anisotropic_masks(shape, spacing):
    rng = np.random.default_rng(sum(shape))
    for smooth in (0.0, 1.5, 3.0):
        pred = _random_masks(rng, shape, smooth)
        ref = _random_masks(rng, shape, smooth)
        distances = surface_distances(pred, ref, spacing)
        ours = (distances.hd(), distances.hd_percentile(95), distances.msd())
        np.testing.assert_allclose(ours, _monai(pred, ref, spacing), atol=1e-3, rtol=0)


def test_monai_differs_on_empty_masks_and_formulas_win():
    # MONAI gives NaN when both masks are empty and NaN for hd95 when one is; FORMULAS.md says
    # 0 and inf. Pinned here so a MONAI change is noticed.
    empty = np.zeros((6, 6), bool)
    one = empty.copy()
    one[2, 3] = True
    assert np.isnan(_monai(empty, empty, (1.0, 1.0))).all()
    assert np.isnan(_monai(one, empty, (1.0, 1.0))[1])
    assert surface_distances(one, empty).hd_percentile(95) == math.inf


def _monai_nsd(pred: np.ndarray, ref: np.ndarray, spacing: tuple[float, ...], tolerance: float) -> float:
    import torch
    from monai.metrics import compute_surface_dice

    def one_hot(mask: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.stack([~mask, mask])[None].astype(np.float32))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = compute_surface_dice(one_hot(pred), one_hot(ref), [tolerance], include_background=False,
                                     spacing=spacing)
    return float(value)


@pytest.mark.parametrize("tolerance", [0.0, 1.3, 2.6])
def test_nsd_agrees_with_monai_on_asymmetric_anisotropic_shapes(tolerance):
    """An off-centre box against a shifted, thinner ellipsoid on a (2.5, 0.8, 1.1) mm grid."""
    from MedSegTrain.metrics import compute_metrics

    z, y, x = np.mgrid[:14, :20, :17]
    pred = ((z - 6) / 4.5) ** 2 + ((y - 9) / 7.0) ** 2 + ((x - 7) / 5.0) ** 2 <= 1
    ref = np.zeros_like(pred)
    ref[3:11, 5:16, 4:14] = True
    spacing = (2.5, 0.8, 1.1)
    ours = compute_metrics(pred, ref, spacing, nsd_tolerance=tolerance)["nsd"]
    assert 0.0 < ours < 1.0
    assert ours == pytest.approx(_monai_nsd(pred, ref, spacing, tolerance), abs=1e-6)  # MONAI: float32


def test_nsd_grows_with_tolerance_and_follows_the_empty_rules():
    from MedSegTrain.metrics import compute_metrics

    ref = np.zeros((9, 9), bool)
    ref[2:7, 2:6] = True
    pred = np.roll(ref, 2, axis=1)
    values = [compute_metrics(pred, ref, (1.0, 0.7), nsd_tolerance=t)["nsd"] for t in (0.0, 0.7, 1.4, 9.0)]
    assert values == sorted(values) and values[0] < values[-1] == 1.0
    assert "nsd" not in compute_metrics(pred, ref)
    empty = np.zeros_like(ref)
    assert compute_metrics(empty, empty, nsd_tolerance=1.0)["nsd"] == 1.0
    assert compute_metrics(pred, empty, nsd_tolerance=1.0)["nsd"] == 0.0
    assert compute_metrics(empty, ref, nsd_tolerance=1.0)["nsd"] == 0.0
    with pytest.raises(MedSegError, match="--nsd-tolerance"):
        compute_metrics(pred, ref, nsd_tolerance=-1.0)
