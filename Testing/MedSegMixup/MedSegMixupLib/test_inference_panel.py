"""Inference panel: bundle list, inputs per channel, run/progress/result, failures, cancel (S1, B8)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from MedSegMixupLib.inference_panel import PROGRESS_STEPS, InferencePanel
from MedSegMixupLib.ui import table_rows
from MedSegMixupLib.workspace import MemoryWorkspace

pytestmark = pytest.mark.gui
FAKE = Path(__file__).with_name("fake_predict.py")


@pytest.fixture
def phantom_volume():
    from MedSegTrain.data.phantoms import case_rng, make_phantom_case

    channels, _label = make_phantom_case("prostate-mri", case_rng(5, 0))
    return channels[0]


@pytest.fixture
def panel(qtbot, phantom_volume):
    workspace = MemoryWorkspace()
    workspace.add_volume("prostate", phantom_volume)
    widget = InferencePanel(workspace, python=[sys.executable, str(FAKE)])
    qtbot.addWidget(widget)
    widget.resize(460, 640)
    return widget


def test_bundle_table_details_and_inputs(panel, tiny_bundle, tmp_path, make_bundle):
    assert panel.add_bundle(tiny_bundle)
    expected = [["tiny", "unet", "2", "Dice 0.850"]]
    assert table_rows(panel.bundle_table) == expected
    details = panel.details.text()
    assert "central_gland" in details and "<b>2</b>" in details and "mr-percentile" in details
    assert panel.input_ids() == ["prostate"]
    assert not panel.add_bundle(tiny_bundle)  # the same bundle twice would count double
    wrong = make_bundle(tmp_path / "kidney", labels={"background": 0, "kidney": 1, "tumour": 2})
    assert not panel.add_bundle(wrong)
    assert panel.status.kind == "error" and "share its labels" in panel.status.text
    assert not panel.add_bundle(tmp_path / "missing")
    assert "missing" in panel.status.text and len(panel.bundles) == 1
    panel.remove_selected_bundle()
    assert panel.bundles == [] and panel.bundle_table.rowCount() == 0


def test_one_input_per_channel(panel, tmp_path, make_bundle):
    brain = make_bundle(tmp_path / "brain", labels={"background": 0, "NCR": 1, "ED": 2, "ET": 3},
                        channels=("T1", "T1ce", "T2", "FLAIR"), members=1)
    panel.add_bundle(brain)
    assert len(panel.input_ids()) == 4
    labels = [panel.inputs_layout.labelForField(chooser.widget).text() for chooser in panel._channel_choosers]
    assert labels == ["T1:", "T1ce:", "T2:", "FLAIR:"]


def test_run_shows_progress_and_adds_the_result(panel, qtbot, tiny_bundle):
    workspace = panel.workspace
    before = workspace.volume("prostate").array.copy()
    events = []
    panel.result_callbacks.append(events.append)
    panel.add_bundle(tiny_bundle)
    panel.tta_check.setChecked(True)
    panel.device_combo.setCurrentIndex(1)
    panel.uncertainty_check.setChecked(True)
    assert panel.run()
    assert not panel.run_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: panel.last_outcome is not None, timeout=60000)
    assert panel.last_outcome.ok, panel.status.text
    assert panel.progress.value() == PROGRESS_STEPS
    assert events == ["prediction"]
    segmentation = workspace.segmentation("prediction")
    assert segmentation.labels == {"central_gland": 1, "peripheral_zone": 2}
    assert segmentation.labelmap.geometry.same_as(workspace.volume("prostate").geometry)
    expected = (before > np.median(before)).astype(np.uint8) + (before > np.percentile(before, 90))
    assert np.array_equal(segmentation.labelmap.array, expected)
    assert "prediction_uncertainty" in workspace.volume_ids()
    assert np.array_equal(workspace.volume("prostate").array, before)  # input untouched
    log = panel.log.toPlainText()
    assert "Running 2 model(s)" in log and '"--tta", "8"' in log and '"--device", "cpu"' in log
    assert panel.status.kind == "ok" and panel.run_button.isEnabled()


def test_a_time_limit_reaches_the_command_and_the_budget_is_logged(panel, qtbot, tiny_bundle):
    panel.add_bundle(tiny_bundle)
    assert panel.request().time_limit is None  # off by default: every model and variant
    assert not panel.time_limit_spin.isEnabled()
    panel.time_limit_check.setChecked(True)
    assert panel.time_limit_spin.isEnabled()
    panel.time_limit_spin.setValue(120)
    assert panel.request().time_limit == 120.0
    assert panel.run()
    qtbot.waitUntil(lambda: panel.last_outcome is not None, timeout=60000)
    assert panel.last_outcome.ok, panel.status.text
    log = panel.log.toPlainText()
    assert '"--time-limit", "120.0"' in log and "budget: 1 member(s) x 2 TTA variant(s)" in log


def test_failed_run_reports_the_error_and_adds_nothing(panel, qtbot, tiny_bundle, monkeypatch):
    monkeypatch.setenv("FAKE_PREDICT_MODE", "fail")
    panel.add_bundle(tiny_bundle)
    assert panel.run()
    qtbot.waitUntil(lambda: panel.last_outcome is not None, timeout=60000)
    assert panel.status.kind == "error" and "does not fit the input" in panel.status.text
    assert panel.workspace.segmentation_ids() == []


def test_cancel_stops_the_process_and_adds_nothing(panel, qtbot, tiny_bundle, monkeypatch, tmp_path):
    pid_file = tmp_path / "pid"
    monkeypatch.setenv("FAKE_PREDICT_MODE", "hang")
    monkeypatch.setenv("FAKE_PREDICT_PIDFILE", str(pid_file))
    panel.add_bundle(tiny_bundle)
    assert panel.run()
    qtbot.waitUntil(lambda: pid_file.exists() and bool(pid_file.read_text()), timeout=60000)
    worker = psutil.Process(int(pid_file.read_text()))
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=20000)
    job_folder = panel.logic.job.folder
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: panel.last_outcome is not None, timeout=20000)
    assert panel.last_outcome.result.cancelled
    assert panel.status.kind == "warning" and "Nothing was added" in panel.status.text
    assert panel.workspace.segmentation_ids() == []
    assert not job_folder.exists()
    deadline = time.monotonic() + 5
    while worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE


def test_incomplete_requests_are_explained(panel):
    assert not panel.run()
    assert "add at least one model bundle" in panel.status.text
