"""compute_metrics (X10, B10): hand-computed pairs, empty-mask rules, bad input, MONAI Dice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from MedSegTrain.errors import MedSegError
from MedSegTrain.metrics import METRIC_NAMES, compute_metrics


def test_returns_every_metric_as_float():
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True
    metrics = compute_metrics(mask, mask)
    assert tuple(metrics) == METRIC_NAMES
    assert all(type(value) is float for value in metrics.values())
    assert metrics["dice"] == 1.0 and metrics["hd"] == 0.0 and metrics["msd"] == 0.0


def test_one_voxel_masks_apart():
    # ref (0,0,0), pred (2,3,4), spacing (z,y,x) = (2,1,0.5): distance sqrt(4^2 + 3^2 + 2^2) = sqrt29
    ref = np.zeros((3, 4, 5), np.uint8)
    pred = np.zeros((3, 4, 5), np.uint8)
    ref[0, 0, 0] = 1
    pred[2, 3, 4] = 1
    metrics = compute_metrics(pred, ref, spacing=(2.0, 1.0, 0.5))
    for name in ("hd", "hd95", "msd"):
        assert metrics[name] == pytest.approx(math.sqrt(29))
    assert metrics["dice"] == 0.0 and metrics["precision"] == 0.0 and metrics["recall"] == 0.0
    # 60 voxels, tn = 58, fp = 1
    assert metrics["specificity"] == pytest.approx(58 / 59)


def test_shifted_squares_with_anisotropic_spacing():
    # Two 3x3 squares, pred shifted one column (x) right; the four unshared surface voxels of
    # each are one column (0.5 mm) from the other surface, the other four coincide:
    # D_PR = D_RP = (0,0,0,0,.5,.5,.5,.5) -> hd = hd95 = 0.5, msd = 4*0.5*2/16 = 0.25.
    ref = np.zeros((7, 7), bool)
    ref[2:5, 2:5] = True
    pred = np.zeros((7, 7), bool)
    pred[2:5, 3:6] = True
    metrics = compute_metrics(pred, ref, spacing=(2.0, 0.5))
    assert metrics["dice"] == pytest.approx(2 / 3)
    assert metrics["hd"] == pytest.approx(0.5)
    assert metrics["hd95"] == pytest.approx(0.5)
    assert metrics["msd"] == pytest.approx(0.25)


def test_border_touching_masks_use_background_outside():
    # ref fills a 3x4 image; pred = its left 3 columns. Both touch the border, so their border
    # voxels are surface: ref surface = all but (1,1),(1,2) (10 voxels); pred surface = all
    # but (1,1) (8 voxels).
    ref = np.ones((3, 4), bool)
    pred = ref.copy()
    pred[:, 3] = False
    metrics = compute_metrics(pred, ref)
    assert metrics["hd"] == pytest.approx(1.0)
    # D_PR: the 8 pred surface voxels are ref surface too except (1,2) (ref interior), 1 mm from
    # (0,2). D_RP: ref's column 3 (3 voxels) is 1 mm from pred's column 2, the other 7 are
    # shared. msd = (1 + 3) / (8 + 10) = 4/18; dice = 2*9 / (9 + 12).
    assert metrics["msd"] == pytest.approx(4 / 18)
    assert metrics["dice"] == pytest.approx(2 * 9 / 21)


def test_both_empty():
    empty = np.zeros((5, 6, 7), bool)
    metrics = compute_metrics(empty, empty, spacing=(1, 2, 3))
    assert metrics["dice"] == metrics["iou"] == 1.0
    assert metrics["hd"] == metrics["hd95"] == metrics["msd"] == 0.0
    assert math.isnan(metrics["precision"]) and math.isnan(metrics["recall"]) and math.isnan(metrics["arvd"])
    assert metrics["specificity"] == 1.0


@pytest.mark.parametrize("empty_side", ["pred", "ref"])
def test_exactly_one_empty(empty_side):
    empty = np.zeros((5, 6), bool)
    full = empty.copy()
    full[1:3, 2:4] = True
    pred, ref = (empty, full) if empty_side == "pred" else (full, empty)
    metrics = compute_metrics(pred, ref)
    assert metrics["dice"] == metrics["iou"] == 0.0
    assert metrics["hd"] == metrics["hd95"] == metrics["msd"] == math.inf


def test_dice_agrees_with_monai_on_random_masks():
    import torch
    from monai.metrics import compute_dice, compute_iou

    rng = np.random.default_rng(7)
    pred = rng.random((9, 17, 13)) > 0.6
    ref = rng.random((9, 17, 13)) > 0.5
    metrics = compute_metrics(pred, ref)
    p = torch.from_numpy(pred[None, None]).float()
    r = torch.from_numpy(ref[None, None]).float()
    expected_dice = float(compute_dice(p, r, include_background=True))
    expected_iou = float(compute_iou(p, r, include_background=True))
    assert metrics["dice"] == pytest.approx(expected_dice, abs=1e-6)
    assert metrics["iou"] == pytest.approx(expected_iou, abs=1e-6)


def test_inputs_are_not_modified():
    rng = np.random.default_rng(3)
    pred = (rng.random((6, 7, 8)) > 0.5).astype(np.int16)
    ref = rng.random((6, 7, 8)) > 0.5
    pred_copy, ref_copy = pred.copy(), ref.copy()
    compute_metrics(pred, ref, spacing=(2, 1, 1))
    np.testing.assert_array_equal(pred, pred_copy)
    np.testing.assert_array_equal(ref, ref_copy)


@pytest.mark.parametrize(
    ("pred", "ref", "spacing", "message"),
    [
        (np.zeros((3, 3)), np.zeros((3, 4)), None, "shape"),
        (np.full((3, 3), 2), np.zeros((3, 3)), None, "not a binary mask"),
        (np.zeros(5), np.zeros(5), None, "2D or 3D"),
        (np.zeros((3, 3)), np.zeros((3, 3)), (1, 2, 3), "spacing"),
        (np.zeros((3, 3)), np.zeros((3, 3)), (1, -2), "positive"),
        (np.zeros((3, 3)), np.zeros((3, 3)), "abc", "spacing"),
    ],
)
def test_bad_input_raises_a_clear_error(pred, ref, spacing, message):
    with pytest.raises(MedSegError, match=message):
        compute_metrics(pred, ref, spacing)


def test_metrics_package_imports_no_torch():
    import subprocess
    import sys

    code = "import sys, MedSegTrain.metrics; print('torch' in sys.modules, 'monai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
