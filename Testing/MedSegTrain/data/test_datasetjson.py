"""dataset.json layouts: MSD (4D images, value->name labels), nnU-Net v1 (_0000 files beside the
listed name) and nnU-Net v2 (discovered cases, name->value labels, region lists)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from MedSegTrain.data import load_case, load_dataset, validate_dataset
from MedSegTrain.errors import MedSegError


def _four_d(path: Path, channels: list[np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = []
    for array in channels:
        frame = sitk.GetImageFromArray(array)
        frame.SetSpacing((1.0, 1.0, 3.0))
        frames.append(frame)
    sitk.WriteImage(sitk.JoinSeries(frames), str(path))


def test_msd_layout_with_4d_images(tmp_path: Path, write_image_file, write_json) -> None:
    rng = np.random.default_rng(0)
    channels = [rng.normal(size=(3, 4, 5)).astype(np.float32) for _ in range(2)]
    _four_d(tmp_path / "imagesTr" / "BRATS_001.nii.gz", channels)
    label = np.zeros((3, 4, 5), np.uint8)
    label[1, 1:3, 1:4] = 2
    write_image_file(tmp_path / "labelsTr" / "BRATS_001.nii.gz", label, spacing=(1.0, 1.0, 3.0))
    write_json(tmp_path / "dataset.json", {
        "name": "BrainTumour", "modality": {"0": "FLAIR", "1": "T1w"},
        "labels": {"0": "background", "1": "edema", "2": "enhancing tumour"},
        "numTraining": 1,
        "training": [{"image": "./imagesTr/BRATS_001.nii.gz", "label": "./labelsTr/BRATS_001.nii.gz"}],
        "test": ["./imagesTs/BRATS_900.nii.gz"]})
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "msd" and dataset.name == "BrainTumour" and dataset.modality == "MR"
    assert dataset.channel_names == ["FLAIR", "T1w"]
    assert dataset.labels == {"background": 0, "edema": 1, "enhancing tumour": 2}
    assert [c.case_id for c in dataset.training] == ["BRATS_001"]
    assert dataset.training[0].images == [tmp_path / "imagesTr" / "BRATS_001.nii.gz"]
    assert [c.case_id for c in dataset.test] == ["BRATS_900"]
    loaded = load_case(dataset.training[0], n_channels=2)
    assert loaded.image.shape == (2, 3, 4, 5) and loaded.image.dtype == np.float32
    np.testing.assert_array_equal(loaded.image[1], channels[1])
    np.testing.assert_array_equal(loaded.label, label)
    problems = validate_dataset(dataset)
    assert problems == [f"case BRATS_900: image file {tmp_path / 'imagesTs' / 'BRATS_900.nii.gz'} is missing"]


def test_nnunet_v1_channel_files_beside_the_listed_name(tmp_path: Path, write_image_file,
                                                         write_json) -> None:
    for c in range(2):
        write_image_file(tmp_path / "imagesTr" / "la_0003_0000.nii.gz".replace("_0000", f"_{c:04d}"),
                         np.full((2, 3, 4), c, np.int16))
    write_image_file(tmp_path / "labelsTr" / "la_0003.nii.gz", np.zeros((2, 3, 4), np.uint8))
    write_json(tmp_path / "dataset.json", {
        "modality": {"0": "CT", "1": "CT2"}, "labels": {"0": "background", "1": "atrium"},
        "training": [{"image": "./imagesTr/la_0003.nii.gz", "label": "./labelsTr/la_0003.nii.gz"}]})
    dataset = load_dataset(tmp_path / "dataset.json")
    assert dataset.layout == "nnunet-v1" and dataset.modality == "CT"
    (case,) = dataset.training
    assert case.case_id == "la_0003"  # a 4-digit case number is not mistaken for a channel suffix
    assert [p.name for p in case.images] == ["la_0003_0000.nii.gz", "la_0003_0001.nii.gz"]
    assert validate_dataset(dataset) == []
    np.testing.assert_array_equal(load_case(case).image[:, 0, 0, 0], [0, 1])


def test_nnunet_v2_discovers_cases_and_test_split(nnunet_v2, write_image_file) -> None:
    root = nnunet_v2(3)
    write_image_file(root / "imagesTs" / "new1_0000.nii.gz", np.zeros((4, 5, 6), np.float32))
    write_image_file(root / "imagesTs" / "new1_0001.nii.gz", np.zeros((4, 5, 6), np.float32))
    dataset = load_dataset(root)
    assert dataset.layout == "nnunet-v2"
    assert [c.case_id for c in dataset.training] == ["case0", "case1", "case2"]
    assert dataset.training[1].images == [root / "imagesTr" / "case1_0000.nii.gz",
                                          root / "imagesTr" / "case1_0001.nii.gz"]
    assert dataset.training[1].label == root / "labelsTr" / "case1.nii.gz"
    assert [(c.case_id, c.label) for c in dataset.test] == [("new1", None)]
    assert dataset.labels == {"background": 0, "organ": 1, "lesion": 2}
    assert dataset.regions is None and dataset.declared_training == 3
    assert validate_dataset(dataset) == []


def test_nnunet_v2_region_labels(nnunet_v2) -> None:
    root = nnunet_v2(1, labels={"background": 0, "whole": [1, 2], "core": [2]})
    dataset = load_dataset(root)
    assert dataset.regions == {"whole": [1, 2], "core": [2]}
    assert dataset.labels == {"background": 0, "label_1": 1, "label_2": 2}
    assert validate_dataset(dataset) == []


def test_nnunet_v2_other_file_ending(tmp_path: Path, write_image_file, write_json) -> None:
    write_image_file(tmp_path / "imagesTr" / "a_0000.nrrd", np.zeros((2, 2, 2), np.int16))
    write_image_file(tmp_path / "labelsTr" / "a.nrrd", np.zeros((2, 2, 2), np.uint8))
    write_json(tmp_path / "dataset.json", {"channel_names": {"0": "CT"}, "labels": {"background": 0},
                                           "file_ending": ".nrrd"})
    dataset = load_dataset(tmp_path)
    assert [c.case_id for c in dataset.training] == ["a"] and validate_dataset(dataset) == []


def test_nnunet_v2_explicit_dataset_mapping(tmp_path: Path, write_image_file, write_json) -> None:
    write_image_file(tmp_path / "data" / "x.nii.gz", np.zeros((2, 2, 2), np.float32))
    write_image_file(tmp_path / "data" / "x_seg.nii.gz", np.zeros((2, 2, 2), np.uint8))
    write_json(tmp_path / "dataset.json", {
        "channel_names": {"0": "MR"}, "labels": {"background": 0, "a": 1},
        "dataset": {"subject-x": {"images": ["data/x.nii.gz"], "label": "data/x_seg.nii.gz"}}})
    dataset = load_dataset(tmp_path)
    assert dataset.training[0].case_id == "subject-x"
    assert dataset.training[0].label == tmp_path / "data" / "x_seg.nii.gz"


def test_orphans_and_count_mismatch_are_reported(nnunet_v2, write_image_file) -> None:
    root = nnunet_v2(2)
    write_image_file(root / "labelsTr" / "ghost.nii.gz", np.zeros((4, 5, 6), np.uint8))
    description = json.loads((root / "dataset.json").read_text())
    description["numTraining"] = 5
    (root / "dataset.json").write_text(json.dumps(description))
    problems = validate_dataset(load_dataset(root))
    assert any("ghost.nii.gz: label without a matching image" in p for p in problems)
    assert any("numTraining is 5 but 2 training cases" in p for p in problems)


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", r"not valid JSON \(line 1"),
    ("[1, 2]", "JSON object"),
    ('{"labels": {"0": "background"}, "training": []}', "channel_names.*modality"),
    ('{"modality": {"0": "CT", "2": "x"}, "labels": {"0": "bg"}, "training": []}', "without gaps"),
    ('{"modality": {"0": "CT"}, "labels": {"a": 1.5}, "training": []}', "label 'a' must map"),
    ('{"modality": {"0": "CT"}, "training": []}', "'labels' must be a non-empty object"),
    ('{"channel_names": {"0": "CT"}, "labels": {"background": 0}, "file_ending": "nii"}', "file_ending"),
])
def test_malformed_descriptions_are_explained(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "dataset.json").write_text(content)
    with pytest.raises(MedSegError, match=message):
        load_dataset(tmp_path)


def test_missing_description(tmp_path: Path) -> None:
    with pytest.raises(MedSegError, match=r"dataset\.json"):
        load_dataset(tmp_path)
    with pytest.raises(MedSegError, match="dataset not found"):
        load_dataset(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(MedSegError, match="not a dataset"):
        load_dataset(tmp_path / "notes.txt")


@pytest.mark.realdata
def test_real_msd_hippocampus(shared_data: Path) -> None:
    root = shared_data / "msd-hippocampus"
    dataset = load_dataset(root)
    description = json.loads((root / "dataset.json").read_text())
    assert dataset.layout == "msd" and dataset.modality == "MR"
    assert len(dataset.training) == description["numTraining"] == 201
    assert dataset.labels == {"background": 0, "Anterior": 1, "Posterior": 2}
    assert validate_dataset(dataset) == []
    loaded = load_case(dataset.training[0], n_channels=1)
    reference = sitk.ReadImage(str(root / "imagesTr" / "hippocampus_001.nii.gz"))
    np.testing.assert_array_equal(loaded.image[0], sitk.GetArrayFromImage(reference).astype(np.float32))
    assert set(np.unique(loaded.label)) <= {0, 1, 2}
