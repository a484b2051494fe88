"""Uncertainty maps: normalised entropy and variance against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from MedSegTrain.errors import MedSegError
from MedSegTrain.inference.uncertainty import check_measure, entropy_map, variance_map


def test_softmax_entropy_by_hand():
    probs = np.array([[1.0, 1 / 3, 0.5], [0.0, 1 / 3, 0.25], [0.0, 1 / 3, 0.25]])
    # H(0.5, 0.25, 0.25) = 1.5 bits; normalised by log2(3)
    np.testing.assert_allclose(entropy_map(probs, "softmax"), [0.0, 1.0, 1.5 / math.log2(3)], atol=1e-6)


def test_sigmoid_entropy_is_the_mean_binary_entropy():
    probs = np.array([[0.5, 1.0], [0.5, 0.1]])
    h01 = -(0.1 * math.log2(0.1) + 0.9 * math.log2(0.9))
    np.testing.assert_allclose(entropy_map(probs, "sigmoid"), [1.0, h01 / 2], atol=1e-6)


def test_variance_from_moments_by_hand():
    samples = np.array([[0.2, 0.9], [0.6, 0.9], [0.4, 0.9]])  # three predictions, two voxels, one channel
    mean, second = samples.mean(0)[None], (samples**2).mean(0)[None]
    np.testing.assert_allclose(variance_map(mean, second), [np.var([0.2, 0.6, 0.4]), 0.0], atol=1e-7)


def test_unknown_measure_is_refused():
    assert check_measure(None) is None
    with pytest.raises(MedSegError, match="entropy, variance"):
        check_measure("mutual-information")
