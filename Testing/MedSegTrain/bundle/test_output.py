"""The output contract (B8): parsed from labels/output, argmax to label values, threshold 0.5, region
rebuilding by hand."""

from __future__ import annotations

import numpy as np
import pytest

from MedSegTrain.bundle.meta import parse_output
from MedSegTrain.bundle.output import rebuild_labels
from MedSegTrain.errors import MedSegError

BRATS_LABELS = {"background": 0, "NET": 1, "ED": 2, "ET": 4}
BRATS_REGIONS = {"WT": [1, 2, 4], "TC": [1, 4], "ET": [4]}


def _meta(**output):
    return {"labels": output.pop("labels", BRATS_LABELS), "output": output}


def test_softmax_argmax_maps_channels_to_label_values_in_value_order():
    spec = parse_output(_meta(activation="softmax"))
    assert spec.channel_names == ["background", "NET", "ED", "ET"]
    probs = np.zeros((4, 1, 1, 4), np.float32)
    probs[[0, 1, 2, 3], 0, 0, [0, 1, 2, 3]] = 0.9
    np.testing.assert_array_equal(spec.decode(probs)[0, 0], [0, 1, 2, 4])
    assert spec.background_fill == [1.0, 0.0, 0.0, 0.0]


def test_region_rebuild_reproduces_a_hand_made_label_map():
    # a 1D strip through nested regions: background, edema, necrosis, enhancing, necrosis, edema
    wt = np.array([0, 1, 1, 1, 1, 1], bool)
    tc = np.array([0, 0, 1, 1, 1, 0], bool)
    et = np.array([0, 0, 0, 1, 0, 0], bool)
    expected = np.array([0, 2, 1, 4, 1, 2])
    probs = np.stack([wt, tc, et]).astype(np.float32) * 0.8 + 0.1  # 0.9 inside, 0.1 outside
    derived = parse_output(_meta(activation="sigmoid", regions=BRATS_REGIONS))
    declared = parse_output(_meta(activation="sigmoid", regions=BRATS_REGIONS, region_rebuild=[
        {"region": "WT", "label": 2}, {"region": "TC", "label": 1}, {"region": "ET", "label": 4}]))
    assert derived.rebuild_order() == (("WT", 2), ("TC", 1), ("ET", 4))
    np.testing.assert_array_equal(derived.decode(probs), expected)
    np.testing.assert_array_equal(declared.decode(probs), expected)
    np.testing.assert_array_equal(rebuild_labels({"WT": wt, "TC": tc, "ET": et}, declared.rebuild_order()),
                                  expected)


def test_threshold_is_inclusive_at_one_half():
    spec = parse_output({"labels": {"background": 0, "tumour": 1},
                                 "output": {"activation": "sigmoid", "regions": {"WT": [1]}}})
    np.testing.assert_array_equal(spec.decode(np.array([[0.4999, 0.5, 0.9]])), [0, 1, 1])


def test_sigmoid_without_regions_takes_the_most_probable_label_above_one_half():
    spec = parse_output({"labels": {"background": 0, "liver": 1, "tumour": 2},
                                 "output": {"activation": "sigmoid"}})
    assert spec.channel_names == ["liver", "tumour"]
    probs = np.array([[0.2, 0.7, 0.8, 0.6], [0.3, 0.6, 0.9, 0.4]])
    np.testing.assert_array_equal(spec.decode(probs), [0, 1, 2, 1])


@pytest.mark.parametrize(("output", "message"), [
    ({"activation": "relu"}, "softmax' or 'sigmoid"),
    ({"activation": "softmax", "regions": BRATS_REGIONS}, "needs output.activation 'sigmoid'"),
    ({"activation": "sigmoid", "regions": {"WT": [1, 7]}}, "undeclared label values"),
    ({"activation": "sigmoid", "regions": {"A": [1, 2], "B": [1, 2]}}, "cannot derive"),
    ({"activation": "sigmoid", "regions": BRATS_REGIONS, "region_rebuild": [{"region": "XX", "label": 1}]},
     "unknown region"),
    ({"activation": "softmax", "region_rebuild": [["WT", 2]]}, "needs output.regions"),
])
def test_inconsistent_declarations_are_refused(output, message):
    with pytest.raises(MedSegError, match=message):
        parse_output(_meta(**output))


def test_wrong_number_of_channels_is_refused():
    spec = parse_output(_meta(activation="softmax"))
    with pytest.raises(MedSegError, match="expected 4 probability channels"):
        spec.decode(np.zeros((3, 2, 2)))
