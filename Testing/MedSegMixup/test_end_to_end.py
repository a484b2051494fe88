"""The whole module outside Slicer with the real backend: sample → window → ensemble → compare → CSV.

Uses the committed tiny bundle (MedSegMixup/Testing/Data/prostate_tiny, trained by
make_test_bundle.py on phantoms of another seed) and the real ``medsegtrain predict`` in a
background process. Saves the screenshots shown in docs/slicer.md.
"""

from __future__ import annotations

import csv
import time

import numpy as np
import psutil
import pytest
from MedSegMixupLib.module_panel import MedSegMixupPanel
from MedSegMixupLib.parameters import ModuleState
from MedSegMixupLib.selftest import MIN_MEAN_DICE, TEST_BUNDLE
from MedSegMixupLib.ui import table_rows
from MedSegMixupLib.workspace import MemoryWorkspace

pytestmark = pytest.mark.gui


@pytest.fixture
def module(qtbot):
    widget = MedSegMixupPanel(MemoryWorkspace())
    qtbot.addWidget(widget)
    return widget


def test_sample_to_csv_with_the_real_backend(module, qtbot, tmp_path, screenshot):
    names, reference = module.load_panel.load_sample("prostate-mri")
    volume_before = module.workspace.volume(names[0]).array.copy()
    inference = module.inference_panel
    assert inference.add_bundle(TEST_BUNDLE)
    assert module.windowing_panel.model_label.text().startswith("MRI percentile")  # the model's preset
    module.windowing_panel.select_preset("mr-percentile")
    assert inference.input_ids() == [names[0]]                 # the loaded volume feeds inference
    assert inference.run()
    qtbot.waitUntil(lambda: inference.last_outcome is not None, timeout=300000)
    assert inference.last_outcome.ok, inference.status.text
    assert inference.progress.value() == inference.progress.maximum()
    prediction = inference.last_segmentation
    segmentation = module.workspace.segmentation(prediction)
    assert segmentation.labels == {"central_gland": 1, "peripheral_zone": 2}
    assert segmentation.labelmap.geometry.same_as(module.workspace.volume(names[0]).geometry)
    assert np.array_equal(module.workspace.volume(names[0]).array, volume_before)

    compare = module.compare_panel
    assert compare.reference.current_id() == reference   # chosen by the panel wiring
    assert compare.prediction.current_id() == prediction
    result = compare.run_comparison()
    assert result is not None, compare.status.text
    rows = table_rows(compare.table)
    assert [row[0] for row in rows] == ["central_gland", "peripheral_zone"]
    assert min(float(row[1]) for row in rows) >= MIN_MEAN_DICE
    written = compare.export_csv(tmp_path / "metrics.csv")
    assert [r["segment"] for r in csv.DictReader(written.open())] == ["central_gland", "peripheral_zone"]

    for panel, name in ((module, "module"), (module.load_panel, "load_panel"),
                        (module.windowing_panel, "windowing_panel"), (inference, "inference_panel"),
                        (compare, "compare_panel")):
        assert screenshot(panel, name).stat().st_size > 5000


@pytest.mark.skipif(not hasattr(__import__("os"), "killpg"), reason="POSIX process groups")
def test_cancel_mid_run_leaves_nothing_and_no_process(module, qtbot):
    module.load_panel.load_sample("prostate-mri")
    inference = module.inference_panel
    inference.add_bundle(TEST_BUNDLE)
    segmentations_before = module.workspace.segmentation_ids()
    assert inference.run()
    leader = psutil.Process(inference.logic.runner.pid)
    time.sleep(1.0)  # the backend is importing torch / reading the bundle
    tree = [leader, *leader.children(recursive=True)]
    inference.cancel()
    qtbot.waitUntil(lambda: inference.last_outcome is not None, timeout=30000)
    assert inference.last_outcome.result.cancelled and "Nothing was added" in inference.status.text
    assert module.workspace.segmentation_ids() == segmentations_before
    for process in tree:
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE, process


def test_state_round_trip(module, tiny_bundle):
    module.load_panel.load_sample("kidney-ct")
    module.inference_panel.add_bundle(tiny_bundle)
    state = ModuleState(windowPreset="custom", windowWidth=420.0, windowLevel=55.0,
                        bundlePaths=str(tiny_bundle), inputVolumes="kidney_ct", tta=True, ttaVariants=12,
                        device="cpu", timeLimit=True, timeLimitSeconds=45, uncertainty=True,
                        clipToWindow=True, outputName="kidneys",
                        referenceSegmentation="kidney_ct_reference",
                        predictionSegmentation="kidney_ct_reference")
    module.set_state(state)
    assert module.state() == state
    # a restored state shows the window in the panel; the display keeps its own (saved with the scene)
    assert module.windowing_panel.display_window("kidney_ct") == (420.0, 55.0)
    assert module.workspace.window("kidney_ct") is None
    seen = []
    module.state_callbacks.append(seen.append)
    module.inference_panel.tta_check.setChecked(False)
    assert seen and seen[-1].tta is False
