"""Panels on real data (../shared/data/totalseg-example-ct): a DICOM series, and a reference label map
stored with a flipped y axis compared by geometry (realdata)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from MedSegMixupLib.compare_panel import ComparePanel
from MedSegMixupLib.load_panel import LoadPanel
from MedSegMixupLib.workspace import MemoryWorkspace, Segmentation

from MedSegTrain.io import Volume

pytestmark = [pytest.mark.gui, pytest.mark.realdata]


def test_dicom_series_and_flipped_reference(qtbot, shared_data):
    folder = shared_data / "totalseg-example-ct"
    workspace = MemoryWorkspace()
    load = LoadPanel(workspace)
    qtbot.addWidget(load)
    assert load.load_file(folder / "dicom") == ["dicom"]
    facts = {key: label.text() for key, label in load.info_labels.items()}
    assert facts["Size (voxels)"] == "512 × 512 × 20" and facts["Modality (guess)"] == "CT"
    assert facts["Spacing (mm)"].startswith("0.977 × 0.977 × 2")

    # prediction: the label map put onto the DICOM grid by SimpleITK (nearest neighbour) —
    # an independent route to the same voxels as the lossless reorientation the panel uses
    series = sitk.ReadImage(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder / "dicom")))
    labels_file = sitk.ReadImage(str(folder / "example_seg_dicom.nii.gz"))
    on_grid = sitk.Resample(labels_file, series, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    values = [int(v) for v in np.unique(sitk.GetArrayViewFromImage(on_grid)) if v != 0][:5]
    array = np.where(np.isin(sitk.GetArrayFromImage(on_grid), values), sitk.GetArrayFromImage(on_grid), 0)
    grid = Volume.from_sitk(on_grid)
    workspace.add_segmentation("prediction", Segmentation(grid.with_array(array.astype(np.uint8)),
                                                          {f"organ {v}": v for v in values}))
    compare = ComparePanel(workspace)
    qtbot.addWidget(compare)
    compare.select(prediction="prediction")
    reference = compare.load_reference_file(folder / "example_seg_dicom.nii.gz")
    compare.select(reference=reference, prediction="prediction")
    result = compare.run_comparison()
    assert result is not None, compare.status.text
    assert set(result.metrics) == {f"organ {v}" for v in values}
    assert all(m["dice"] == 1.0 for m in result.metrics.values())
