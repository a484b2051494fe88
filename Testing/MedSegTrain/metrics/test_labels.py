"""Per-label / per-region metrics (B4, B10, L2): against compute_metrics on masks built by hand."""

from __future__ import annotations

import numpy as np
import pytest

from MedSegTrain.errors import MedSegError
from MedSegTrain.metrics import compute_metrics
from MedSegTrain.metrics.labels import compute_label_metrics, parse_labels, parse_regions


def _brats_pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    ref = np.zeros((10, 12, 14), np.uint8)
    ref[2:8, 2:10, 2:12] = 2  # oedema
    ref[3:7, 4:8, 4:10] = 1  # necrosis
    ref[4:6, 5:7, 5:8] = 3  # enhancing
    pred = ref.copy()
    noise = rng.random(ref.shape) < 0.1
    pred[noise] = rng.integers(0, 4, ref.shape, dtype=np.uint8)[noise]
    return pred, ref


def test_labels_and_overlapping_regions_match_masks_built_by_hand():
    pred, ref = _brats_pair()
    spacing = (2.0, 1.0, 0.5)
    regions = {"WT": [1, 2, 3], "TC": [1, 3], "ET": [3]}
    results = compute_label_metrics(pred, ref, {"background": 0, "NCR": 1, "ED": 2}, regions, spacing)
    assert list(results) == ["NCR", "ED", "WT", "TC", "ET"]
    masks = {"NCR": [1], "ED": [2], **regions}
    for name, values in masks.items():
        expected = compute_metrics(np.isin(pred, values), np.isin(ref, values), spacing)
        got = {key: results[name][key] for key in expected}
        np.testing.assert_allclose(list(got.values()), list(expected.values()), rtol=1e-12)
    # volumes in mL: voxel = 2*1*0.5 = 1 mm^3
    assert results["ET"]["volume_ref_ml"] == pytest.approx(np.count_nonzero(ref == 3) / 1000)


def test_default_labels_are_the_values_present():
    pred = np.array([[0, 1, 1], [0, 0, 4]])
    ref = np.array([[0, 1, 0], [2, 0, 0]])
    results = compute_label_metrics(pred, ref)
    assert list(results) == ["1", "2", "4"]
    assert results["1"]["dice"] == pytest.approx(2 / 3)  # tp 1, #P 2, #R 1
    assert results["2"]["dice"] == 0.0 and results["2"]["hd"] == np.inf


def test_label_absent_from_both_maps_follows_the_empty_rule():
    ref = np.zeros((4, 4), np.int16)
    ref[1, 1] = 1
    results = compute_label_metrics(ref, ref, {"liver": 1, "spleen": 7})
    assert results["spleen"]["dice"] == 1.0 and results["spleen"]["hd95"] == 0.0
    assert results["spleen"]["specificity"] == 1.0


def test_integral_float_maps_are_accepted_and_others_refused():
    ref = np.array([[0, 1], [1, 0]])
    assert compute_label_metrics(ref.astype(np.float32), ref)["1"]["dice"] == 1.0
    with pytest.raises(MedSegError, match="non-integer"):
        compute_label_metrics(ref * 0.5, ref)
    with pytest.raises(MedSegError, match="negative"):
        compute_label_metrics(-ref, ref)
    with pytest.raises(MedSegError, match="shape"):
        compute_label_metrics(ref, ref[:1])


@pytest.mark.parametrize(
    ("labels", "regions", "message"),
    [({"liver": 1.5}, None, "liver"), ({"a": -1}, None, "non-negative"), ({"a": "x"}, None, "'a'"),
     (None, {"WT": []}, "WT"), ({"WT": 1}, {"WT": [1, 2]}, "also a label")],
)
def test_bad_label_and_region_definitions(labels, regions, message):
    ref = np.array([[0, 1], [2, 0]])
    with pytest.raises(MedSegError, match=message):
        compute_label_metrics(ref, ref, labels, regions)


def test_parse_labels_and_regions():
    assert parse_labels("1, 2") == {"1": 1, "2": 2}
    assert parse_labels("kidney=1,tumour=2") == {"kidney": 1, "tumour": 2}
    assert parse_regions("WT=1+2+3,TC=1+3,ET=3") == {"WT": [1, 2, 3], "TC": [1, 3], "ET": [3]}
    for bad in ("kidney=x", "0", ""):
        with pytest.raises(MedSegError, match="labels"):
            parse_labels(bad)
    for bad in ("WT", "WT=1+a", "=1", "ET=0"):
        with pytest.raises(MedSegError, match="regions"):
            parse_regions(bad)
