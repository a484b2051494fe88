"""validate_dataset names every problem: each kind alone, and all of them together."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from MedSegTrain.data import Case, load_dataset, validate_dataset
from MedSegTrain.progress import Progress


def test_clean_dataset_has_no_problems(nnunet_v2) -> None:
    assert validate_dataset(load_dataset(nnunet_v2(2))) == []


def test_missing_label_file(nnunet_v2) -> None:
    root = nnunet_v2(2)
    (root / "labelsTr" / "case1.nii.gz").unlink()
    assert validate_dataset(load_dataset(root)) == [
        f"case case1: label file {root / 'labelsTr' / 'case1.nii.gz'} is missing"]


def test_missing_image_channel(nnunet_v2) -> None:
    root = nnunet_v2(2)
    (root / "imagesTr" / "case0_0001.nii.gz").unlink()
    assert validate_dataset(load_dataset(root)) == [
        f"case case0: image file {root / 'imagesTr' / 'case0_0001.nii.gz'} is missing"]


def test_image_label_geometry_mismatch(nnunet_v2, write_image_file) -> None:
    root = nnunet_v2(2)
    write_image_file(root / "labelsTr" / "case1.nii.gz", np.zeros((4, 5, 6), np.uint8), spacing=(1, 1, 2.5))
    problems = validate_dataset(load_dataset(root))
    assert len(problems) == 1
    assert problems[0].startswith(f"case case1: label {root / 'labelsTr' / 'case1.nii.gz'} grid differs")
    assert "spacing (1.0, 1.0, 2.5)" in problems[0] and "spacing (1.0, 1.0, 2.0)" in problems[0]


def test_image_label_size_mismatch(nnunet_v2, write_image_file) -> None:
    root = nnunet_v2(1)
    write_image_file(root / "labelsTr" / "case0.nii.gz", np.zeros((4, 5, 7), np.uint8))
    (problem,) = validate_dataset(load_dataset(root))
    assert "grid differs" in problem and "size (7, 5, 4)" in problem


def test_channel_geometry_mismatch(nnunet_v2, write_image_file) -> None:
    root = nnunet_v2(1)
    write_image_file(root / "imagesTr" / "case0_0001.nii.gz", np.zeros((4, 5, 6), np.float32),
                     origin=(0.0, 0.0, 10.0))
    (problem,) = validate_dataset(load_dataset(root))
    assert problem.startswith(f"case case0: channel file {root / 'imagesTr' / 'case0_0001.nii.gz'} "
                              "has another grid")


def test_undeclared_label_values(nnunet_v2, write_image_file) -> None:
    root = nnunet_v2(2)
    label = np.zeros((4, 5, 6), np.uint8)
    label[0, 0, 0], label[1, 1, 1] = 5, 7
    write_image_file(root / "labelsTr" / "case0.nii.gz", label)
    assert validate_dataset(load_dataset(root)) == [
        f"case case0: label {root / 'labelsTr' / 'case0.nii.gz'} holds values [5, 7] not declared in the "
        "dataset labels [0, 1, 2]"]
    assert validate_dataset(load_dataset(root), check_label_values=False) == []


def test_non_integer_float_label(nnunet_v2, write_image_file) -> None:
    root = nnunet_v2(1)
    write_image_file(root / "labelsTr" / "case0.nii.gz", np.full((4, 5, 6), 0.5, np.float32))
    (problem,) = validate_dataset(load_dataset(root))
    assert "non-integer values" in problem


def test_unreadable_file(nnunet_v2) -> None:
    root = nnunet_v2(2)
    (root / "imagesTr" / "case1_0000.nii.gz").write_bytes(b"\x1f\x8b garbage" * 20)
    (problem,) = validate_dataset(load_dataset(root))
    broken = root / "imagesTr" / "case1_0000.nii.gz"
    assert problem.startswith(f"case case1: image file is unreadable: {broken}")


def test_channel_count_mismatch(nnunet_v2) -> None:
    root = nnunet_v2(1)
    description = json.loads((root / "dataset.json").read_text())
    description["channel_names"]["2"] = "FLAIR"
    (root / "dataset.json").write_text(json.dumps(description))
    dataset = load_dataset(root)
    # nnU-Net v2 expects the third channel file, so the missing file is reported
    assert validate_dataset(dataset) == [
        f"case case0: image file {root / 'imagesTr' / 'case0_0002.nii.gz'} is missing"]
    dataset.training[0] = Case("case0", dataset.training[0].images[:2], dataset.training[0].label)
    assert validate_dataset(dataset) == [
        "case case0: 2 image channels but the dataset declares 3 (T1, T2, FLAIR)"]


def test_duplicate_case_ids_and_missing_label_entry(nnunet_v2) -> None:
    dataset = load_dataset(nnunet_v2(2))
    dataset.test.append(dataset.training[0])
    dataset.training.append(Case("case9", dataset.training[1].images, None))
    problems = validate_dataset(dataset)
    assert "case id 'case0' appears 2 times" in problems
    assert "case case9: no label file given" in problems


def test_every_problem_is_reported_in_one_pass(nnunet_v2, write_image_file) -> None:
    root = nnunet_v2(5)
    (root / "labelsTr" / "case0.nii.gz").unlink()
    write_image_file(root / "labelsTr" / "case1.nii.gz", np.zeros((3, 5, 6), np.uint8))
    write_image_file(root / "labelsTr" / "case2.nii.gz", np.full((4, 5, 6), 9, np.uint8))
    (root / "imagesTr" / "case3_0000.nii.gz").write_bytes(b"broken")
    write_image_file(root / "imagesTr" / "case4_0001.nii.gz", np.zeros((4, 5, 6), np.float32),
                     spacing=(2, 2, 2))
    problems = validate_dataset(load_dataset(root))
    assert len(problems) == 5
    for case, words in [("case0", "is missing"), ("case1", "grid differs"), ("case2", "[9] not declared"),
                        ("case3", "unreadable"), ("case4", "another grid")]:
        assert any(p.startswith(f"case {case}:") and words in p for p in problems), (case, problems)


def test_progress_reports_each_case(nnunet_v2) -> None:
    import io

    stream = io.StringIO()
    validate_dataset(load_dataset(nnunet_v2(3)), progress=Progress("json", stream=stream))
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["start", "progress", "progress", "progress"]
    assert events[-1]["done"] == 3 and events[-1]["message"] == "case2"


def test_empty_dataset(tmp_path: Path, write_json) -> None:
    (tmp_path / "imagesTr").mkdir()
    write_json(tmp_path / "dataset.json", {"channel_names": {"0": "CT"}, "labels": {"background": 0}})
    assert validate_dataset(load_dataset(tmp_path)) == [f"{tmp_path / 'dataset.json'}: no training cases"]


def test_flipped_label_with_the_same_voxel_centres_is_fine(nnunet_v2) -> None:
    import SimpleITK as sitk

    root = nnunet_v2(1)
    path = root / "labelsTr" / "case0.nii.gz"
    label = sitk.ReadImage(str(path))
    flipped = sitk.Flip(label, [True, False, False])  # keeps voxel centres, reverses the x index
    assert flipped.GetDirection()[0] == -1.0
    sitk.WriteImage(flipped, str(path))
    assert validate_dataset(load_dataset(root)) == []
