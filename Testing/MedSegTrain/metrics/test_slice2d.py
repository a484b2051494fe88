"""msd_2d, the mixup paper's in-slice mean surface distance (X10), on hand-made slices."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from MedSegTrain.metrics.slice2d import msd_2d
from MedSegTrain.metrics.surface import mask_surface


def test_full_connectivity_surface_equals_scipy_box_erosion():
    rng = np.random.default_rng(2)
    mask = ndimage.gaussian_filter(rng.standard_normal((15, 17)), 1.0) > 0
    expected = mask ^ ndimage.binary_erosion(mask, np.ones((3, 3), bool), border_value=0)
    np.testing.assert_array_equal(mask_surface(mask, connectivity="full"), expected)


def test_hand_made_two_slice_case():
    # Slice 0: ref 4x4 square (rows/cols 1-4), pred = ref shifted one row down (rows 2-5).
    #   8-neighbour surface of a 4x4 square: its 12 border pixels. Pred's row 5 (4 pixels) is
    #   1 px from ref's row 4; pred's row 2 and 3 sides: (2,1),(2,4),(3,1),(3,4) lie on ref's
    #   side columns -> 0; (2,2),(2,3) are ref interior -> 1 px to (1,2),(1,3). Pred's row 4
    #   shares ref's row 4 -> 0. So D_PR = 4 x 1 (row 5) + 2 x 1 ((2,2),(2,3)) + 6 x 0.
    #   By symmetry D_RP has six 1s and six 0s.
    # Slice 1: identical 3x3 squares: 8 + 8 zeros.
    # msd_2d = (6 + 6) / (12 + 12 + 16) = 12/40 = 0.3 (pixels).
    ref = np.zeros((2, 8, 8), bool)
    pred = np.zeros((2, 8, 8), bool)
    ref[0, 1:5, 1:5] = True
    pred[0, 2:6, 1:5] = True
    ref[1, 2:5, 2:5] = True
    pred[1, 2:5, 2:5] = True
    assert msd_2d(pred, ref) == pytest.approx(0.3)
    # in-plane spacing (y, x) = (0.5, 2): every 1-px distance is a row shift -> 0.5 mm
    assert msd_2d(pred, ref, spacing=(0.5, 2.0)) == pytest.approx(0.15)


def test_slice_distances_ignore_other_slices():
    # The same square on slices 0 (ref) and 1 (pred): in 3D they are 1 voxel apart, in-slice
    # each has no partner -> inf by default, nothing left when skipped -> inf as well.
    ref = np.zeros((2, 5, 5), bool)
    pred = np.zeros((2, 5, 5), bool)
    ref[0, 1:4, 1:4] = True
    pred[1, 1:4, 1:4] = True
    assert msd_2d(pred, ref) == math.inf


def test_empty_slice_rule():
    ref = np.zeros((3, 6, 6), bool)
    ref[:, 1:4, 1:4] = True
    pred = ref.copy()
    pred[2] = False  # the prediction misses the last slice
    assert msd_2d(pred, ref) == math.inf
    assert msd_2d(pred, ref, empty_slices="skip") == 0.0
    assert msd_2d(np.zeros_like(ref), np.zeros_like(ref)) == 0.0


def test_a_single_2d_slice_is_accepted():
    ref = np.zeros((5, 5), bool)
    ref[1:4, 1:4] = True
    assert msd_2d(ref, ref) == 0.0


def test_a_plus_shape_uses_the_8_neighbour_surface():
    """Squares have the same 4- and 8-neighbour surfaces; a plus does not. Kills: 4-neighbour surfaces
    (``metrics-inslice-4-neighbour``).
    Ref = plus (centre (2, 2) and its four arms), pred = the centre pixel alone.
    8-neighbour: the centre has background diagonals, so it is on ref's surface: D_PR = [0],
    D_RP = [1, 1, 1, 1, 0] -> (0 + 4) / 6. (4-neighbour: centre interior, D_PR = [1], D_RP = four 1s -> 1.)"""
    ref = np.zeros((5, 5), bool)
    ref[2, 1:4] = ref[1:4, 2] = True
    pred = np.zeros((5, 5), bool)
    pred[2, 2] = True
    assert msd_2d(pred, ref) == pytest.approx(4 / 6)


def test_msd_2d_equals_a_scipy_reference_on_random_blobs():
    """Surfaces by scipy's 3x3 box erosion, distances by its Euclidean distance transform, pooled over
    slices; anisotropic in-plane spacing (y 0.7, x 1.9) so a swapped spacing gives another answer."""
    rng = np.random.default_rng(5)
    pred = ndimage.gaussian_filter(rng.standard_normal((3, 18, 21)), (0, 1.5, 1.5)) > 0.1
    ref = ndimage.gaussian_filter(rng.standard_normal((3, 18, 21)), (0, 1.5, 1.5)) > 0.1
    spacing = (0.7, 1.9)
    distances = []
    for p, r in zip(pred, ref, strict=True):
        sp = p ^ ndimage.binary_erosion(p, np.ones((3, 3), bool), border_value=0)
        sr = r ^ ndimage.binary_erosion(r, np.ones((3, 3), bool), border_value=0)
        distances += list(ndimage.distance_transform_edt(~sr, sampling=spacing)[sp])
        distances += list(ndimage.distance_transform_edt(~sp, sampling=spacing)[sr])
    assert msd_2d(pred, ref, spacing=spacing) == pytest.approx(np.mean(distances), rel=1e-9)
