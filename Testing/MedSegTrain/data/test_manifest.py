"""CSV manifests: header, comment lines, relative paths, test rows, discovered labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from MedSegTrain.data import load_case, load_dataset, validate_dataset
from MedSegTrain.errors import MedSegError


def _files(root: Path, write_image_file) -> None:
    for case in ("p01", "p02"):
        write_image_file(root / "scans" / f"{case}_t1.nii.gz", np.ones((2, 3, 4), np.float32))
        write_image_file(root / "scans" / f"{case}_t2.nii.gz", np.full((2, 3, 4), 2, np.float32))
    label = np.zeros((2, 3, 4), np.uint8)
    label[0, 0, 0] = 4
    write_image_file(root / "masks" / "p01.nii.gz", label)


def test_manifest_with_comments_two_channels_and_a_test_row(tmp_path: Path, write_image_file) -> None:
    _files(tmp_path, write_image_file)
    csv = tmp_path / "study.csv"
    csv.write_text("# name: liver study\n# modality: MR\n# labels: lesion=4\n"
                   "case_id,image_T1,image_T2,label\n"
                   "p01,scans/p01_t1.nii.gz,scans/p01_t2.nii.gz,masks/p01.nii.gz\n"
                   "p02,scans/p02_t1.nii.gz,scans/p02_t2.nii.gz,\n")
    dataset = load_dataset(csv)
    assert dataset.layout == "csv" and dataset.name == "liver study" and dataset.modality == "MR"
    assert dataset.channel_names == ["T1", "T2"]
    assert dataset.labels == {"background": 0, "lesion": 4}
    assert [c.case_id for c in dataset.training] == ["p01"]
    assert [(c.case_id, c.label) for c in dataset.test] == [("p02", None)]
    assert dataset.training[0].images[1] == tmp_path / "scans" / "p01_t2.nii.gz"
    assert validate_dataset(dataset) == []
    loaded = load_case(dataset.training[0])
    np.testing.assert_array_equal(loaded.image[:, 0, 0, 0], [1.0, 2.0])


def test_labels_are_discovered_without_a_labels_line(tmp_path: Path, write_image_file) -> None:
    _files(tmp_path, write_image_file)
    csv = tmp_path / "m.csv"
    csv.write_text(f"case_id,image,label\np01,{tmp_path / 'scans' / 'p01_t1.nii.gz'},masks/p01.nii.gz\n")
    dataset = load_dataset(csv)
    assert dataset.labels == {"background": 0, "label_4": 4}
    assert dataset.channel_names == ["channel0"] and dataset.modality == "other"


def test_row_problems_are_reported(tmp_path: Path, write_image_file) -> None:
    _files(tmp_path, write_image_file)
    csv = tmp_path / "m.csv"
    csv.write_text("case_id,image,label\np01,scans/p01_t1.nii.gz,masks/p01.nii.gz,extra\n"
                   ",scans/p02_t1.nii.gz,\n")
    problems = validate_dataset(load_dataset(csv))
    assert f"{csv}: row 2 has 4 cells, the header 3" in problems
    assert f"{csv}: row 3 has an empty case_id or image cell" in problems
    assert any("no training cases" in p for p in problems)


@pytest.mark.parametrize(("text", "message"), [
    ("", "no header row"),
    ("id,image,label\n", "'case_id' column"),
    ("case_id,label\n", "'image' column"),
    ("# labels: lesion\ncase_id,image,label\n", "'lesion' is not name=value"),
    ("# channels: T1, T2\ncase_id,image,label\n", "names 2 channels"),
])
def test_malformed_manifests(tmp_path: Path, text: str, message: str) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text(text)
    with pytest.raises(MedSegError, match=message):
        load_dataset(csv)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(MedSegError, match="not found"):
        load_dataset(tmp_path / "none.csv")


@pytest.mark.realdata
def test_real_brats_cases_through_a_manifest(shared_data: Path, tmp_path: Path) -> None:
    import SimpleITK as sitk

    root = shared_data / "brats2015-deepmedic"
    rows = [f"brats_2013_pat000{i}_1,{root}/images/brats_2013_pat000{i}_1_flair.nii.gz,"
            f"{root}/images/brats_2013_pat000{i}_1_t1c.nii.gz,{root}/labels/brats_2013_pat000{i}_1_seg.nii.gz"
            for i in (1, 2)]
    csv = tmp_path / "brats.csv"
    # label values from the folder's PROVENANCE.md (BraTS 2013/2015 convention)
    csv.write_text("# labels: necrosis=1, oedema=2, non-enhancing=3, enhancing=4\n"
                   "case_id,image_FLAIR,image_T1c,label\n" + "\n".join(rows) + "\n")
    dataset = load_dataset(csv)
    assert dataset.channel_names == ["FLAIR", "T1c"] and dataset.modality == "MR"
    assert validate_dataset(dataset) == []
    loaded = load_case(dataset.training[1], n_channels=2)
    t1c = sitk.ReadImage(str(root / "images" / "brats_2013_pat0002_1_t1c.nii.gz"))
    np.testing.assert_array_equal(loaded.image[1], sitk.GetArrayFromImage(t1c).astype(np.float32))
    assert set(np.unique(loaded.label)) <= {0, 1, 2, 3, 4} and loaded.label.max() > 0
