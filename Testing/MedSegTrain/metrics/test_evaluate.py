"""The evaluation module: case matching, a prediction onto the reference grid, per-pair scores, summaries.

``medsegtrain evaluate`` is tested end to end in ``Testing/MedSegTrain/cli/test_evaluate.py``;
here are the pieces the demo, the held-out scores of training and the Slicer compare panel use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.io import Geometry, Volume, write_image
from MedSegTrain.metrics import compute_metrics
from MedSegTrain.metrics.evaluate import (
    evaluate_cases,
    evaluate_label_maps,
    evaluate_masks,
    match_cases,
    onto_reference,
    overlap_scores,
)


def _volume(array: np.ndarray, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0)) -> Volume:
    geometry = Geometry(tuple(reversed(array.shape)), spacing, origin, (1, 0, 0, 0, 1, 0, 0, 0, 1))
    return Volume.from_geometry(array, geometry)


def test_folders_match_by_case_id_with_channel_suffix_and_other_files_ignored(tmp_path: Path) -> None:
    label = np.zeros((2, 3, 3), np.uint8)
    for name in ("pred/a_0000.nii.gz", "pred/b.NRRD", "pred/notes.txt", "pred/.hidden.nii.gz",
                 "ref/a.nii.gz", "ref/b.nrrd", "ref/c.mha"):
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        if name.endswith(".txt"):
            path.write_text("not an image")
        else:
            write_image(_volume(label), path)
    pairs, unmatched = match_cases(tmp_path / "pred", tmp_path / "ref")
    assert [(c, p.name, r.name) for c, p, r in pairs] == [("a", "a_0000.nii.gz", "a.nii.gz"),
                                                         ("b", "b.NRRD", "b.nrrd")]
    assert unmatched == {"predictions": [], "references": ["c"]}
    single, _ = match_cases(tmp_path / "pred" / "b.NRRD", tmp_path / "ref" / "a.nii.gz")
    assert single[0][0] == "a"  # a file pair is named after the reference


def test_a_smaller_prediction_grid_is_background_outside_it() -> None:
    # The prediction covers x in [0, 4) mm of the reference's [0, 8): nearest-neighbour
    # extrapolation would carry its last column (all 1) to the right half; evaluation must not.
    ref = _volume(np.zeros((1, 2, 8), np.uint8))
    pred = _volume(np.ones((1, 2, 4), np.uint8))
    moved = onto_reference(pred, ref)
    assert moved.geometry.same_as(ref.geometry)
    assert moved.array.tolist() == [[[1, 1, 1, 1, 0, 0, 0, 0]] * 2]
    assert onto_reference(ref, ref) is ref
    with pytest.raises(MedSegError, match="do not overlap"):
        onto_reference(_volume(np.ones((1, 2, 4), np.uint8), origin=(100.0, 0.0, 0.0)), ref)


def test_label_maps_masks_and_overlap_scores_agree_with_compute_metrics() -> None:
    rng = np.random.default_rng(3)
    pred, ref = rng.integers(0, 3, (6, 9, 7)), rng.integers(0, 3, (6, 9, 7))
    spacing = (2.0, 0.5, 0.8)
    records = evaluate_label_maps("c1", pred, ref, spacing, {"one": 1, "two": 2})
    assert [(r["case"], r["target"]) for r in records] == [("c1", "one"), ("c1", "two")]
    for record, value in zip(records, (1, 2), strict=True):
        expected = compute_metrics(pred == value, ref == value, spacing=spacing)
        assert {k: record[k] for k in expected} == expected
        assert {k: v for k, v in evaluate_masks(pred == value, ref == value, spacing).items()
                if k in expected} == expected
        numpy_scores = overlap_scores(pred == value, ref == value)
        torch_scores = overlap_scores(torch.from_numpy(pred == value), torch.from_numpy(ref == value))
        assert numpy_scores == torch_scores == {"dice": expected["dice"], "iou": expected["iou"]}
    empty = np.zeros((2, 2), bool)
    assert overlap_scores(empty, empty) == {"dice": 1.0, "iou": 1.0}


def test_evaluate_cases_summarises_over_cases_and_notes_the_unmatched(tmp_path: Path) -> None:
    ref = np.zeros((4, 6, 6), np.uint8)
    ref[1:3, 1:5, 1:5] = 1
    half = ref.copy()
    half[2] = 0
    pairs = []
    for case, pred in (("x", ref), ("y", half)):
        write_image(_volume(pred), tmp_path / f"p_{case}.nii.gz")
        write_image(_volume(ref), tmp_path / f"r_{case}.nii.gz")
        pairs.append((case, tmp_path / f"p_{case}.nii.gz", tmp_path / f"r_{case}.nii.gz"))
    result = evaluate_cases(pairs, {"predictions": [], "references": ["z"]}, metrics=["dice"])
    assert result.columns == ["dice", "volume_pred_ml", "volume_ref_ml"]
    assert [r["dice"] for r in result.records] == [1.0, pytest.approx(2 / 3)]
    assert result.summaries["1"]["dice"].mean == pytest.approx((1 + 2 / 3) / 2)
    assert result.notes == ["not evaluated: 1 reference(s) without a prediction: z"]
