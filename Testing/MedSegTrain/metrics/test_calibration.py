"""Calibration metrics on probabilities whose ECE and Brier score are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from MedSegTrain.errors import MedSegError
from MedSegTrain.metrics.calibration import brier_score, expected_calibration_error, reliability_curve


def test_binary_ece_by_hand():
    # p = 0.9, 0.9, 0.2, 0.6 with g = 1, 0, 0, 1.
    # predicted 1,1,0,1; confidence 0.9, 0.9, 0.8, 0.6; correct 1,0,1,1.
    # 10 bins: (0.8,0.9] holds 0.9, 0.9 (acc 0.5, conf 0.9); (0.7,0.8] holds 0.8 (acc 1, conf .8);
    # (0.5,0.6] holds 0.6 (acc 1, conf 0.6).
    # ECE = 2/4*|0.5-0.9| + 1/4*|1-0.8| + 1/4*|1-0.6| = 0.2 + 0.05 + 0.1 = 0.35
    prob = np.array([0.9, 0.9, 0.2, 0.6])
    ref = np.array([1, 0, 0, 1])
    assert expected_calibration_error(prob, ref, n_bins=10) == pytest.approx(0.35)
    # Brier = mean((0.1)^2, 0.9^2, 0.2^2, 0.4^2) = (0.01 + 0.81 + 0.04 + 0.16) / 4 = 0.255
    assert brier_score(prob, ref) == pytest.approx(0.255)


def test_multiclass_ece_and_brier_by_hand():
    # voxel 0: p = (0.7, 0.2, 0.1), g = 0: conf 0.7 correct; brier 0.09 + 0.04 + 0.01 = 0.14
    # voxel 1: p = (0.1, 0.3, 0.6), g = 1: conf 0.6 wrong;   brier 0.01 + 0.49 + 0.36 = 0.86
    # 5 bins: (0.6,0.8] holds 0.7 (acc 1); (0.4,0.6] holds 0.6 (acc 0).
    # ECE = 1/2*0.3 + 1/2*0.6 = 0.45; Brier = (0.14 + 0.86) / 2 = 0.5
    prob = np.array([[0.7, 0.1], [0.2, 0.3], [0.1, 0.6]])
    ref = np.array([0, 1])
    assert expected_calibration_error(prob, ref, n_bins=5) == pytest.approx(0.45)
    assert brier_score(prob, ref) == pytest.approx(0.5)


def test_perfectly_calibrated_probabilities_have_small_ece():
    rng = np.random.default_rng(0)
    prob = rng.random(200_000)
    ref = rng.random(200_000) < prob  # g ~ Bernoulli(p): calibrated by construction
    ece = expected_calibration_error(prob, ref)
    assert ece < 0.01
    assert expected_calibration_error(prob.astype(np.float32), ref) == pytest.approx(ece, abs=1e-6)
    # overconfident: push probabilities to 0/1 while keeping the labels
    assert expected_calibration_error(np.round(prob), ref) > 0.2


def test_mask_restricts_voxels_and_reliability_curve():
    prob = np.array([0.9, 0.9, 0.2, 0.6])
    ref = np.array([1, 0, 0, 1])
    mask = np.array([True, False, True, True])
    # remaining confidences 0.9, 0.8, 0.6 all correct: ECE = (0.1 + 0.2 + 0.4) / 3
    assert expected_calibration_error(prob, ref, n_bins=10, mask=mask) == pytest.approx(0.7 / 3)
    curve = reliability_curve(prob, ref, n_bins=10)
    assert curve["count"].tolist() == [0, 0, 0, 0, 0, 1, 0, 1, 2, 0]
    assert curve["accuracy"][8] == pytest.approx(0.5) and np.isnan(curve["accuracy"][0])


@pytest.mark.parametrize(
    ("prob", "ref", "message"),
    [
        (np.array([1.2, 0.1]), np.array([1, 0]), r"\[0, 1\]"),
        (np.array([0.2, 0.1]), np.array([2, 0]), "0/1"),
        (np.array([[0.5, 0.5], [0.2, 0.2]]), np.array([0, 1]), "sum to 1"),
        (np.array([0.5, 0.5, 0.5]), np.array([0, 1]), "shape"),
        (np.array([0.5, 0.5]), np.array([0.0, 1.0]), "integer"),
    ],
)
def test_bad_input(prob, ref, message):
    with pytest.raises(MedSegError, match=message):
        brier_score(prob, ref)
