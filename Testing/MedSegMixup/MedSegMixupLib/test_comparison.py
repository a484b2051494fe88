"""Segment matching, metric table, FP/FN maps and CSV of the compare panel's logic (X10, B10)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from MedSegMixupLib.comparison import ComparisonError, compare, format_value, match_segments
from MedSegMixupLib.workspace import Segmentation

from MedSegTrain.io import Volume


def volume(array, spacing=(1.0, 1.0, 2.0)):
    return Volume(np.asarray(array), spacing, (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))


@pytest.fixture
def pair():
    ref = np.zeros((4, 10, 10), np.uint8)
    ref[1:3, 2:6, 2:6] = 1            # 32 voxels of "gland"
    ref[1:3, 6:8, 2:6] = 2            # 16 voxels of "zone"
    pred = np.zeros_like(ref)
    pred[1:3, 3:7, 2:6] = 5           # gland predicted one row lower (value 5 in the prediction)
    pred[1:3, 7:8, 2:6] = 6           # zone: only its lower row
    reference = Segmentation(volume(ref), {"gland": 1, "zone": 2})
    prediction = Segmentation(volume(pred), {"gland": 5, "zone": 6})
    return reference, prediction


def test_hand_computed_dice_and_error_maps(pair):
    reference, prediction = pair
    ref_before = reference.labelmap.array.copy()
    result = compare(reference, prediction, "ref", "pred")
    # gland: ref rows 2-5, pred rows 3-6 -> overlap rows 3-5 = 3*4*2 = 24; |R| = |P| = 32
    assert result.metrics["gland"]["dice"] == pytest.approx(2 * 24 / 64)
    assert result.metrics["gland"]["iou"] == pytest.approx(24 / 40)
    # zone: ref rows 6-7 (16), pred row 7 (8), overlap 8
    assert result.metrics["zone"]["dice"] == pytest.approx(2 * 8 / 24)
    assert result.metrics["zone"]["recall"] == pytest.approx(8 / 16)
    assert result.metrics["zone"]["volume_ref_ml"] == pytest.approx(16 * 2.0 / 1000)
    fp = result.false_positives.labelmap.array
    fn = result.false_negatives.labelmap.array
    # predicted gland on row 6 where the reference says zone: FP of gland and FN of zone
    assert np.all(fp[1:3, 6, 2:6] == 1) and np.all(fn[1:3, 6, 2:6] == 2)
    assert np.all(fn[1:3, 2, 2:6] == 1)             # missed gland row
    assert np.count_nonzero(fp) == 8 and np.count_nonzero(fn) == 16
    assert result.false_positives.labels == {"gland FP": 1, "zone FP": 2}
    assert np.array_equal(reference.labelmap.array, ref_before)  # inputs untouched


def test_segments_match_by_value_when_names_differ():
    ref = Segmentation(volume(np.zeros((2, 3, 3), np.uint8)), {"1": 1, "2": 2})
    pred = Segmentation(volume(np.zeros((2, 3, 3), np.uint8)), {"kidney": 1, "tumour": 3})
    assert match_segments(ref, pred) == {"1": (1, 1)}


def test_different_grids_and_no_common_segment_are_refused(pair):
    reference, prediction = pair
    moved = Segmentation(volume(prediction.labelmap.array, spacing=(1.0, 1.0, 3.0)), prediction.labels)
    with pytest.raises(ComparisonError, match="different image grids"):
        compare(reference, moved)
    other = Segmentation(prediction.labelmap, {"liver": 9})
    with pytest.raises(ComparisonError, match="no segment in common"):
        compare(reference, other)


def test_csv_has_full_precision_and_one_row_per_segment(pair, tmp_path):
    result = compare(*pair, "ref", "pred")
    path = result.write_csv(tmp_path / "metrics.csv")
    rows = list(csv.DictReader(path.open()))
    assert [r["segment"] for r in rows] == ["gland", "zone"]
    assert float(rows[0]["dice"]) == pytest.approx(0.75, abs=0)
    assert rows[0]["reference"] == "ref" and rows[0]["prediction"] == "pred"
    assert list(tmp_path.iterdir()) == [path]  # atomic: no temporary left behind


def test_table_formatting():
    assert format_value(0.123456, 3) == "0.123"
    assert format_value(math.inf, 2) == "∞"
    assert format_value(math.nan, 2) == "n/a"


def test_prediction_with_flipped_axis_is_compared_by_geometry(pair):
    reference, prediction = pair
    flipped_array = prediction.labelmap.array[:, ::-1, :]
    # the same voxel centres with y running the other way: direction y = -1, origin at the far end
    flipped = Volume(np.ascontiguousarray(flipped_array), (1.0, 1.0, 2.0), (0.0, 9.0, 0.0),
                     (1, 0, 0, 0, -1, 0, 0, 0, 1))
    result = compare(reference, Segmentation(flipped, prediction.labels))
    assert result.metrics["gland"]["dice"] == pytest.approx(0.75)
    assert result.metrics["zone"]["dice"] == pytest.approx(2 * 8 / 24)


def nested_masks(shift: int) -> dict[str, np.ndarray]:
    """BraTS-style nested regions WT ⊃ TC ⊃ ET as three overlapping masks, moved ``shift`` voxels in x."""
    wt = np.zeros((6, 12, 12), bool)
    wt[1:5, 2:10, 2 + shift:10 + shift] = True
    tc = np.zeros_like(wt)
    tc[2:4, 4:8, 4 + shift:8 + shift] = True
    et = np.zeros_like(wt)
    et[2:4, 5:7, 5 + shift:7 + shift] = True
    return {"WT": wt, "TC": tc, "ET": et}


def test_overlapping_segments_are_scored_from_their_own_masks():
    grid = volume(np.zeros((6, 12, 12), np.uint8))
    values = {"WT": 1, "TC": 2, "ET": 3}
    ref_masks, pred_masks = nested_masks(0), nested_masks(1)
    reference = Segmentation.from_masks(grid, ref_masks, values)
    prediction = Segmentation.from_masks(grid, pred_masks, values)
    assert reference.overlaps()
    result = compare(reference, prediction)
    for name in values:
        ref, pred = ref_masks[name], pred_masks[name]
        expected = 2 * np.count_nonzero(ref & pred) / (np.count_nonzero(ref) + np.count_nonzero(pred))
        assert result.metrics[name]["dice"] == pytest.approx(expected), name
    # WT keeps the voxels TC and ET also hold: through one label map it would lose them
    assert result.metrics["WT"]["volume_ref_ml"] == pytest.approx(ref_masks["WT"].sum() * 2.0 / 1000)
    assert np.array_equal(result.false_negatives.mask("WT FN"), ref_masks["WT"] & ~pred_masks["WT"])


def test_distances_use_the_spacing_in_array_order_as_medsegtrain_evaluate(tmp_path):
    import json

    import SimpleITK as sitk

    from MedSegTrain.cli import main

    ref = np.zeros((8, 10, 12), np.uint8)
    ref[2:6, 3:7, 3:9] = 1
    pred = np.zeros_like(ref)
    pred[3:7, 3:7, 3:9] = 1  # one slice further along z, where the spacing is 3 mm
    spacing = (0.5, 1.0, 3.0)  # (x, y, z)
    result = compare(Segmentation(volume(ref, spacing), {"organ": 1}),
                     Segmentation(volume(pred, spacing), {"organ": 1}))
    assert result.metrics["organ"]["hd"] == pytest.approx(3.0)  # not 0.5 (x) or 1.0 (y)
    paths = {}
    for name, array in (("ref", ref), ("pred", pred)):
        image = sitk.GetImageFromArray(array)
        image.SetSpacing(spacing)
        paths[name] = tmp_path / f"{name}.nii.gz"
        sitk.WriteImage(image, str(paths[name]))
    report = tmp_path / "report.json"
    assert main(["evaluate", "--pred", str(paths["pred"]), "--ref", str(paths["ref"]), "--json", str(report),
                 "--progress", "none"]) == 0
    cli = _first_label_metrics(json.loads(report.read_text()))
    for key in ("dice", "iou", "hd", "hd95", "msd", "arvd", "recall", "specificity"):
        assert result.metrics["organ"][key] == pytest.approx(cli[key]), key


def _first_label_metrics(report) -> dict:
    """The metrics of the single case and label of an ``evaluate --json`` report."""
    (row,) = report["cases"]
    return row


def test_surface_distances_use_the_spacing_in_array_order():
    """Anisotropic voxels (x 0.5, y 1, z 3 mm) and a prediction one column off in x.

    Each box is two slices deep, so every voxel is on its surface: the 8 voxels of each box's
    unshared column are 0.5 mm (one x step) from the other box, the other 24 at 0 ->
    HD95 = HD = 0.5 mm, MSD = 16 x 0.5 / 64 = 0.125 mm. Spacing passed in (x, y, z) instead of
    (z, y, x) gives 3 mm and 0.75 mm — wrong distances a clinician would read on anisotropic scans
    (mutation ``slicer-compare-spacing-xyz``)."""
    ref = np.zeros((4, 10, 10), np.uint8)
    ref[1:3, 2:6, 2:6] = 1
    pred = np.zeros_like(ref)
    pred[1:3, 2:6, 3:7] = 1
    spacing = (0.5, 1.0, 3.0)
    result = compare(Segmentation(volume(ref, spacing), {"gland": 1}),
                     Segmentation(volume(pred, spacing), {"gland": 1}))
    gland = result.metrics["gland"]
    assert gland["hd95"] == pytest.approx(0.5) and gland["hd"] == pytest.approx(0.5)
    assert gland["msd"] == pytest.approx(0.125)
    assert gland["volume_ref_ml"] == pytest.approx(32 * 1.5 / 1000)
