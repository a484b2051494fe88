"""Overlap metrics (X10, B10) against counts worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from MedSegTrain.metrics.overlap import Confusion, overlap_metrics


def test_counts_of_two_shifted_squares():
    # 3x3 squares in a 7x7 image, the prediction shifted one column right:
    # they share 3 rows x 2 columns = 6 voxels, each has 3 of its own, 49 - 12 = 37 background.
    ref = np.zeros((7, 7), bool)
    ref[2:5, 2:5] = True
    pred = np.zeros((7, 7), bool)
    pred[2:5, 3:6] = True
    assert Confusion.from_masks(pred, ref) == Confusion(tp=6, fp=3, fn=3, tn=37)


def test_ratios_from_counts():
    # tp=6 fp=3 fn=3 tn=37: dice 12/18, iou 6/12, precision 6/9, recall 6/9, specificity 37/40.
    metrics = overlap_metrics(Confusion(tp=6, fp=3, fn=3, tn=37))
    assert metrics["dice"] == pytest.approx(2 / 3)
    assert metrics["iou"] == pytest.approx(0.5)
    assert metrics["precision"] == pytest.approx(2 / 3)
    assert metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["specificity"] == pytest.approx(37 / 40)
    assert metrics["arvd"] == 0.0


def test_arvd_is_relative_to_the_reference_volume():
    # #P = tp + fp = 10, #R = tp + fn = 4: |10 - 4| / 4 = 1.5
    assert overlap_metrics(Confusion(tp=4, fp=6, fn=0, tn=90))["arvd"] == pytest.approx(1.5)


def test_both_empty_gives_perfect_overlap_and_nan_ratios():
    metrics = overlap_metrics(Confusion(tp=0, fp=0, fn=0, tn=100))
    assert metrics["dice"] == 1.0 and metrics["iou"] == 1.0
    assert math.isnan(metrics["precision"]) and math.isnan(metrics["recall"])
    assert math.isnan(metrics["arvd"])
    assert metrics["specificity"] == 1.0


def test_empty_prediction_gives_zero_dice_and_nan_precision():
    metrics = overlap_metrics(Confusion(tp=0, fp=0, fn=5, tn=95))
    assert metrics["dice"] == 0.0 and metrics["iou"] == 0.0
    assert math.isnan(metrics["precision"])
    assert metrics["recall"] == 0.0
    assert metrics["arvd"] == 1.0


def test_total_argument_counts_background_outside_a_crop():
    crop = np.array([[True, False]])
    assert Confusion.from_masks(crop, crop, total=10) == Confusion(tp=1, fp=0, fn=0, tn=9)


def test_ratios_with_unequal_errors():
    """fp != fn (the case above has fp = fn = 3, where tn/(tn+fp) = tn/(tn+fn)): tp 4, fp 1, fn 5, tn 30.
    Kills ``metrics-specificity`` and ``metrics-arvd-denominator``."""
    metrics = overlap_metrics(Confusion(tp=4, fp=1, fn=5, tn=30))
    assert metrics["specificity"] == pytest.approx(30 / 31)
    assert metrics["precision"] == pytest.approx(4 / 5) and metrics["recall"] == pytest.approx(4 / 9)
    assert metrics["arvd"] == pytest.approx(abs(5 - 9) / 9)
    assert metrics["dice"] == pytest.approx(8 / 14) and metrics["iou"] == pytest.approx(4 / 10)
