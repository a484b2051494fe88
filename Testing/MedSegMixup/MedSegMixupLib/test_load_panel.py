"""Load panel: files, multi-channel files, DICOM-less errors, phantom samples, the facts shown (S1)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from MedSegMixupLib.load_panel import LoadPanel, image_name
from MedSegMixupLib.workspace import MemoryWorkspace

pytestmark = pytest.mark.gui


@pytest.fixture
def panel(qtbot):
    widget = LoadPanel(MemoryWorkspace())
    qtbot.addWidget(widget)
    return widget


def write_ct(path, spacing=(0.7, 0.7, 2.5)):
    array = np.full((6, 20, 30), 40, np.int16)
    array[:, :3, :] = -1024
    array[2, 10, 10] = 1500
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin((-10.0, 5.0, 2.0))
    sitk.WriteImage(image, str(path))
    return array


def test_file_is_loaded_and_described(panel, tmp_path):
    loaded = []
    panel.loaded_callbacks.append(loaded.append)
    array = write_ct(tmp_path / "abdomen.nii.gz")
    assert panel.load_file(tmp_path / "abdomen.nii.gz") == ["abdomen"]
    assert loaded == ["abdomen"]
    assert np.array_equal(panel.workspace.volume("abdomen").array, array)
    shown = {key: label.text() for key, label in panel.info_labels.items()}
    assert shown["Size (voxels)"] == "30 × 20 × 6"
    assert shown["Spacing (mm)"] == "0.7 × 0.7 × 2.5"
    assert shown["Origin (mm)"] == "-10.0, 5.0, 2.0"
    assert shown["Intensity range"] == "-1024 … 1500"
    assert shown["Data type"] == "int16"
    assert shown["Modality (guess)"] == "CT"
    assert panel.status.kind == "ok"


def test_four_dimensional_file_gives_one_volume_per_channel(panel, tmp_path):
    array = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)  # (channel, z, y, x)
    sitk.WriteImage(sitk.GetImageFromArray(array, isVector=False), str(tmp_path / "mr4d.nii.gz"))
    names = panel.load_file(tmp_path / "mr4d.nii.gz")
    assert names == ["mr4d_ch0", "mr4d_ch1"]
    assert np.array_equal(panel.workspace.volume("mr4d_ch1").array, array[1])
    assert panel.info_labels["Modality (guess)"].text() == "MR"


def test_unreadable_file_is_reported_and_nothing_added(panel, tmp_path):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"not an image")
    assert panel.load_file(bad) == []
    assert panel.status.kind == "error" and "broken.nii.gz" in panel.status.text
    assert panel.workspace.volume_ids() == []


def test_sample_brings_its_reference(panel):
    names, reference = panel.load_sample("prostate-mri")
    assert names == ["prostate_mri"] and reference == "prostate_mri_reference"
    segmentation = panel.workspace.segmentation(reference)
    assert segmentation.labels == {"central_gland": 1, "peripheral_zone": 2}
    assert set(np.unique(segmentation.labelmap.array)) == {0, 1, 2}
    assert segmentation.labelmap.geometry.same_as(panel.workspace.volume(names[0]).geometry)
    assert panel.info_labels["Modality (guess)"].text() == "MR"


def test_image_names_drop_compound_suffixes(tmp_path):
    assert image_name(tmp_path / "case_0000.nii.gz") == "case_0000"
    assert image_name(tmp_path / "scan.NRRD") == "scan"
    assert image_name(tmp_path / "dicom_folder") == "dicom_folder"
