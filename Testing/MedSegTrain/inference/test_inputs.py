"""What `predict --input` names: channel files, 4D files, DICOM folders, folders of cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from MedSegTrain.errors import MedSegError
from MedSegTrain.inference.inputs import resolve_inputs


def _write(path: Path, shape=(3, 4, 5), components: int = 1) -> Path:
    array = np.zeros((*shape, components) if components > 1 else shape, np.float32)
    sitk.WriteImage(sitk.GetImageFromArray(array, isVector=components > 1), str(path))
    return path


def test_several_files_are_the_channels_of_one_case(tmp_path):
    files = [_write(tmp_path / f"BRATS_001_000{i}.nii.gz") for i in range(4)]
    cases, is_folder = resolve_inputs(files)
    assert not is_folder
    assert [(c.case_id, c.n_channels, c.suffix) for c in cases] == [("BRATS_001", 4, ".nii.gz")]
    assert cases[0].paths == tuple(files)


def test_a_multi_component_file_counts_its_channels(tmp_path):
    cases, _ = resolve_inputs([_write(tmp_path / "brain.nrrd", components=3)])
    assert cases[0].n_channels == 3 and cases[0].case_id == "brain"
    assert len(cases[0].read()) == 3


def test_nnunet_folder_groups_channels_by_case(tmp_path):
    for case in ("liver_3", "liver_1"):
        for channel in range(2):
            _write(tmp_path / f"{case}_{channel:04d}.nii.gz")
    (tmp_path / "notes.txt").write_text("ignored")
    cases, is_folder = resolve_inputs([tmp_path])
    assert is_folder
    assert [(c.case_id, c.n_channels) for c in cases] == [("liver_1", 2), ("liver_3", 2)]
    assert [p.name for p in cases[0].paths] == ["liver_1_0000.nii.gz", "liver_1_0001.nii.gz"]


def test_plain_folder_is_one_case_per_file(tmp_path):
    _write(tmp_path / "a.mha")
    _write(tmp_path / "b.nii")
    cases, _ = resolve_inputs([tmp_path])
    assert [(c.case_id, c.suffix) for c in cases] == [("a", ".mha"), ("b", ".nii")]


@pytest.mark.realdata
def test_dicom_folder_is_one_case(shared_data):
    folder = shared_data / "totalseg-example-ct" / "dicom"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")
    cases, is_folder = resolve_inputs([folder])
    assert not is_folder and len(cases) == 1 and cases[0].paths == (folder,)


@pytest.mark.parametrize(("layout", "message"), [
    ({"x_0000.nii.gz": 1, "x_0002.nii.gz": 1}, "expected _0000 .. _0001"),
    ({"x_0000.nii.gz": 1, "y_0000.nii.gz": 1, "y_0001.nii.gz": 1}, "different numbers of channels"),
    ({}, "holds no images"),
])
def test_broken_folders_are_refused(tmp_path, layout, message):
    for name in layout:
        _write(tmp_path / name)
    with pytest.raises(MedSegError, match=message):
        resolve_inputs([tmp_path])


def test_missing_and_mixed_inputs_are_refused(tmp_path):
    with pytest.raises(MedSegError, match="no such file"):
        resolve_inputs([tmp_path / "nope.nii.gz"])
    image = _write(tmp_path / "a.nii.gz")
    with pytest.raises(MedSegError, match="only be given alone"):
        resolve_inputs([image, tmp_path])
    (tmp_path / "t.txt").write_text("x")
    with pytest.raises(MedSegError, match="not an image file"):
        resolve_inputs([image, tmp_path / "t.txt"])
