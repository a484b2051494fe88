"""predict_volume over real bundles: geometry kept exactly, probabilities equal a direct
computation, bundles averaged member by member, misfits refused before any work."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from MedSegTrain.bundle import ModelBundle, load_bundle
from MedSegTrain.errors import MedSegError
from MedSegTrain.inference.predictor import predict_volume
from MedSegTrain.io import Volume
from MedSegTrain.preprocessing.pipeline import PreprocessingSpec


def _oblique(shape=(7, 12, 10), seed=0, channels=1) -> list[Volume]:
    a, b = math.radians(30), math.radians(20)
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    direction = tuple((rz @ rx).ravel())
    rng = np.random.default_rng(seed)
    return [Volume(rng.normal(size=shape).astype(np.float32), (0.7, 1.3, 3.1), (-12.5, 40.25, 7.0), direction)
            for _ in range(channels)]


def _direct_softmax(nets, volume: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(volume)[None]
    with torch.no_grad():
        return (sum(torch.softmax(n(x), 1)[0] for n in nets) / len(nets)).numpy()


def test_label_and_outputs_keep_an_oblique_anisotropic_geometry(make_bundle):
    path, _nets = make_bundle("resampled", preprocessing={"normalization": "zscore",
                                                          "target_spacing": [1.5, 1.5, 2.0]})
    channels = _oblique()
    result = predict_volume([path], channels, tta=2, probabilities=True, uncertainty="entropy")
    for volume in (result.label, result.uncertainty):
        assert volume.array.shape == channels[0].array.shape
        assert volume.spacing == channels[0].spacing
        assert volume.origin == channels[0].origin
        assert volume.direction == channels[0].direction
    assert result.probabilities.shape == (2, 7, 12, 10)
    assert set(np.unique(result.label.array)) <= {0, 1}
    np.testing.assert_allclose(result.probabilities.sum(0), 1.0, atol=1e-5)


def test_probabilities_equal_the_network_applied_directly(make_bundle):
    """Pointwise members + no preprocessing: TTA and windows must not change a thing."""
    path, nets = make_bundle("plain", n_members=3, labels={"background": 0, "a": 1, "b": 2})
    channels = _oblique(shape=(9, 11, 13))
    result = predict_volume([load_bundle(path)], channels, tta=16, probabilities=True)
    expected = _direct_softmax(nets, channels[0].array[None])
    np.testing.assert_allclose(result.probabilities, expected, atol=1e-6)
    np.testing.assert_array_equal(result.label.array, np.argmax(expected, 0))
    assert result.n_predictions == 3 * 16


def test_bundles_with_different_grids_are_averaged_member_by_member(make_bundle):
    a, nets_a = make_bundle("a", n_members=2, seed=0)
    b, nets_b = make_bundle("b", n_members=1, seed=10, inference={"mode": "whole", "patch_size": [8, 8, 8],
                                                                  "overlap": 0.5})
    channels = _oblique(shape=(8, 9, 10))
    both = predict_volume([a, b], channels, probabilities=True)
    pa = _direct_softmax(nets_a, channels[0].array[None])
    pb = _direct_softmax(nets_b, channels[0].array[None])
    np.testing.assert_allclose(both.probabilities, (2 * pa + pb) / 3, atol=1e-6)


def test_sigmoid_regions_are_thresholded_and_rebuilt(make_bundle, pointwise_network):
    regions = {"WT": [1, 2, 4], "TC": [1, 4], "ET": [4]}
    labels = {"background": 0, "NET": 1, "ED": 2, "ET": 4}
    path, nets = make_bundle("brats", labels=labels, activation="sigmoid", regions=regions,
                             channels=("t1", "t1ce", "t2", "flair"))
    channels = _oblique(shape=(6, 8, 8), channels=4)
    result = predict_volume([path], channels, probabilities=True)
    x = torch.from_numpy(np.stack([c.array for c in channels]))[None]
    with torch.no_grad():
        p = torch.sigmoid(nets[0](x))[0].numpy()
    wt, tc, et = p[0] >= 0.5, p[1] >= 0.5, p[2] >= 0.5
    expected = np.zeros(wt.shape, np.uint8)
    expected[wt & ~tc] = 2          # ED = WT - TC
    expected[tc & ~et] = 1          # NET = TC - ET
    expected[et] = 4
    np.testing.assert_array_equal(result.label.array, expected)


def test_variance_uncertainty_is_zero_for_one_equivariant_member(make_bundle):
    path, _ = make_bundle("one")
    result = predict_volume([path], _oblique(), tta=8, uncertainty="variance")
    assert result.uncertainty.array.dtype == np.float32
    np.testing.assert_allclose(result.uncertainty.array, 0.0, atol=1e-6)


class _Refuse(Exception):
    pass


def _forbid_work(monkeypatch):
    def boom(*_a, **_k):
        raise _Refuse("work started before the checks")

    monkeypatch.setattr(ModelBundle, "build_member", boom)
    monkeypatch.setattr(PreprocessingSpec, "prepare_image", boom)


def test_a_bundle_with_the_wrong_channels_is_refused_before_any_work(make_bundle, monkeypatch):
    path, _ = make_bundle("two", channels=("t1", "t2"))
    _forbid_work(monkeypatch)
    with pytest.raises(MedSegError, match=r"takes 2 channel\(s\) \(t1, t2\) but 1 were given"):
        predict_volume([path], _oblique())


def test_bundles_with_different_labels_are_refused_before_any_work(make_bundle, monkeypatch):
    a, _ = make_bundle("a")
    b, _ = make_bundle("b", labels={"background": 0, "liver": 1, "tumour": 2})
    _forbid_work(monkeypatch)
    with pytest.raises(MedSegError, match="differ from"):
        predict_volume([a, b], _oblique())


def test_output_channels_not_matching_the_labels_are_refused(make_bundle, monkeypatch):
    path, _ = make_bundle("bad", args={"spatial_dims": 3, "in_channels": 1, "out_channels": 3})
    _forbid_work(monkeypatch)
    with pytest.raises(MedSegError, match=r"3 output channels but model\.json declares 2"):
        predict_volume([path], _oblique())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tta": 20}, "--tta"), ({"uncertainty": "mutual"}, "uncertainty"),
    ({"batch_size": 0}, "--batch-size"), ({"precision": "float16"}, "only offered on CUDA"),
    ({"device": "cuda:7"}, "CUDA is not available"), ({"overlap": 1.5}, "overlap"),
])
def test_bad_options_are_refused(make_bundle, kwargs, message):
    if "device" in kwargs and torch.cuda.is_available():
        pytest.skip("CUDA present")
    path, _ = make_bundle("ok")
    with pytest.raises(MedSegError, match=message):
        predict_volume([path], _oblique(), **kwargs)


def test_inputs_are_not_modified(make_bundle):
    path, _ = make_bundle("ok", preprocessing={"normalization": "zscore"})
    channels = _oblique()
    before = channels[0].array.copy()
    predict_volume([path], channels, tta=4)
    np.testing.assert_array_equal(channels[0].array, before)
