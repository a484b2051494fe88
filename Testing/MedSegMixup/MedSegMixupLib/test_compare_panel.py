"""Compare panel: table against hand-computed Dice, FP/FN segmentations, reference files, CSV (S1)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import SimpleITK as sitk
from MedSegMixupLib.compare_panel import ComparePanel
from MedSegMixupLib.ui import table_rows
from MedSegMixupLib.workspace import MemoryWorkspace, Segmentation

from MedSegTrain.io import Volume

pytestmark = pytest.mark.gui


def grid(array):
    return Volume(array, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))


@pytest.fixture
def panel(qtbot):
    workspace = MemoryWorkspace()
    image = np.zeros((3, 12, 12), np.float32)
    workspace.add_volume("image", grid(image))
    ref = np.zeros((3, 12, 12), np.uint8)
    ref[:, 2:8, 2:8] = 1                       # 108 voxels
    pred = np.zeros_like(ref)
    pred[:, 2:8, 4:10] = 1                     # shifted by 2 columns: overlap 3*6*4 = 72
    workspace.add_segmentation("reference", Segmentation(grid(ref), {"organ": 1}))
    workspace.add_segmentation("prediction", Segmentation(grid(pred), {"organ": 1}))
    widget = ComparePanel(workspace)
    qtbot.addWidget(widget)
    widget.select(reference="reference", prediction="prediction")
    return widget


def test_table_overlays_and_csv(panel, tmp_path):
    result = panel.run_comparison()
    assert result is not None
    rows = table_rows(panel.table)
    assert len(rows) == 1 and rows[0][0] == "organ"
    assert rows[0][1] == f"{2 * 72 / 216:.3f}"        # Dice
    assert rows[0][2] == f"{72 / 144:.3f}"            # IoU
    assert rows[0][6] == f"{72 / 108:.3f}"            # sensitivity
    names = panel.workspace.segmentation_ids()
    assert "prediction false positives" in names and "prediction false negatives" in names
    fp = panel.workspace.segmentation("prediction false positives").labelmap.array
    assert np.count_nonzero(fp) == 36 and np.all(fp[:, 2:8, 8:10] == 1)
    assert panel.workspace.tables["prediction vs reference"][1] == rows
    written = panel.export_csv(tmp_path / "out" / "metrics.csv")
    content = list(csv.DictReader(written.open()))
    assert float(content[0]["dice"]) == pytest.approx(2 * 72 / 216)
    assert panel.status.kind == "ok"


def test_second_comparison_replaces_the_overlays(panel):
    panel.run_comparison()
    panel.run_comparison()
    names = panel.workspace.segmentation_ids()
    assert names.count("prediction false positives") == 1 and "prediction false positives_1" not in names


def test_reference_from_a_label_file_takes_the_prediction_names(panel, tmp_path):
    array = np.zeros((3, 12, 12), np.uint8)
    array[:, 2:8, 2:8] = 1
    image = sitk.GetImageFromArray(array)
    sitk.WriteImage(image, str(tmp_path / "truth.nrrd"))
    name = panel.load_reference_file(tmp_path / "truth.nrrd")
    assert name == "truth" and panel.workspace.segmentation(name).labels == {"organ": 1}
    result = panel.run_comparison()
    assert result.reference_name == "truth" and result.metrics["organ"]["dice"] == pytest.approx(144 / 216)


def test_mistakes_are_explained(panel, tmp_path):
    panel.select(reference="prediction", prediction="prediction")
    assert panel.run_comparison() is None and "same segmentation" in panel.status.text
    assert panel.export_csv(tmp_path / "x.csv") is None and "run a comparison first" in panel.status.text
    other = grid(np.zeros((3, 6, 6), np.uint8))
    panel.workspace.add_segmentation("small", Segmentation(other, {"organ": 1}))
    panel.select(reference="reference", prediction="small")
    assert panel.run_comparison() is None and "different image grids" in panel.status.text
    float_file = tmp_path / "prob.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.full((3, 12, 12), 0.5, np.float32)), str(float_file))
    assert panel.load_reference_file(float_file) is None and "not a label map" in panel.status.text
