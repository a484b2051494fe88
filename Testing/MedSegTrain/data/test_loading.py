"""load_case: (C, z, y, x) float32 image, integer label, reference geometry; clear refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from MedSegTrain.data import Case, load_case, load_dataset
from MedSegTrain.errors import MedSegError


def test_loaded_case_arrays_and_reference(nnunet_v2) -> None:
    root = nnunet_v2(1)
    loaded = load_case(load_dataset(root).training[0], n_channels=2)
    first = sitk.ReadImage(str(root / "imagesTr" / "case0_0000.nii.gz"))
    second = sitk.ReadImage(str(root / "imagesTr" / "case0_0001.nii.gz"))
    assert loaded.image.shape == (2, 4, 5, 6) and loaded.image.dtype == np.float32
    np.testing.assert_array_equal(loaded.image[0], sitk.GetArrayFromImage(first))
    np.testing.assert_array_equal(loaded.image[1], sitk.GetArrayFromImage(second))
    assert loaded.label.dtype == np.uint8 and loaded.label[2, 2, 3] == 2 and loaded.label.sum() == 19
    assert loaded.reference.spacing == pytest.approx(first.GetSpacing())
    assert loaded.case_id == "case0" and len(loaded.channels) == 2
    assert loaded.label_volume.geometry == loaded.reference.geometry


def test_float_label_with_whole_values_becomes_int32(tmp_path: Path, write_image_file) -> None:
    image = write_image_file(tmp_path / "i.nii.gz", np.zeros((2, 3, 4), np.float32))
    label = write_image_file(tmp_path / "l.nii.gz", np.full((2, 3, 4), 2.0, np.float32))
    loaded = load_case(Case("c", [image], label))
    assert loaded.label.dtype == np.int32 and np.all(loaded.label == 2)


def test_refusals_name_the_file(tmp_path: Path, write_image_file) -> None:
    image = write_image_file(tmp_path / "i.nii.gz", np.zeros((2, 3, 4), np.float32))
    fractional = write_image_file(tmp_path / "f.nii.gz", np.full((2, 3, 4), 0.5, np.float32))
    shifted = write_image_file(tmp_path / "s.nii.gz", np.zeros((2, 3, 4), np.uint8), origin=(5.0, 0, 0))
    other = write_image_file(tmp_path / "o.nii.gz", np.zeros((2, 3, 4), np.float32), spacing=(2, 2, 2))
    with pytest.raises(MedSegError, match=r"f\.nii\.gz: label map holds non-integer values"):
        load_case(Case("c", [image], fractional))
    with pytest.raises(MedSegError, match=r"s\.nii\.gz: label grid differs"):
        load_case(Case("c", [image], shifted))
    with pytest.raises(MedSegError, match="case c: channel 1 has another grid"):
        load_case(Case("c", [image, other], None))
    with pytest.raises(MedSegError, match=r"case c: 1 channels in .* but 2 expected"):
        load_case(Case("c", [image], None), n_channels=2)
    with pytest.raises(MedSegError, match=r"missing\.nii\.gz: file not found"):
        load_case(Case("c", [tmp_path / "missing.nii.gz"], None))
    with pytest.raises(MedSegError, match="no image files"):
        load_case(Case("c", [], None))


def test_inputs_are_not_modified(nnunet_v2) -> None:
    root = nnunet_v2(1)
    before = {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    load_case(load_dataset(root).training[0])
    assert before == {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_label_stored_with_a_flipped_axis_is_reoriented(tmp_path: Path, write_image_file) -> None:
    image = write_image_file(tmp_path / "i.nii.gz", np.zeros((2, 3, 4), np.float32), spacing=(1, 1, 2))
    label_array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    flipped = sitk.GetImageFromArray(label_array)
    flipped.SetSpacing((1.0, 1.0, 2.0))
    flipped.SetDirection((1, 0, 0, 0, -1, 0, 0, 0, 1))
    flipped.SetOrigin((0.0, 2.0, 0.0))  # index y=0 sits where the image's y=2 is
    sitk.WriteImage(flipped, str(tmp_path / "l.nii.gz"))
    loaded = load_case(Case("c", [image], tmp_path / "l.nii.gz"))
    np.testing.assert_array_equal(loaded.label, label_array[:, ::-1, :])
    expected = sitk.Resample(flipped, sitk.ReadImage(str(image)), sitk.Transform(), sitk.sitkNearestNeighbor)
    np.testing.assert_array_equal(loaded.label, sitk.GetArrayFromImage(expected))
