"""InferenceLogic with an injected runner: what it starts, relays, imports, cleans up and refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from MedSegMixupLib.bundle_info import read_bundle_summary
from MedSegMixupLib.inference_job import InferenceRequest, RequestError
from MedSegMixupLib.inference_logic import InferenceLogic
from MedSegMixupLib.process_runner import RunResult
from MedSegMixupLib.workspace import MemoryWorkspace

from MedSegTrain.io import Volume, write_image


class ScriptedRunner:
    """A process runner that records the command and plays back what a finished process reports."""

    def __init__(self, on_event, on_finished) -> None:
        self.on_event, self.on_finished = on_event, on_finished
        self.command: list[str] | None = None
        self.env: dict | None = None
        self.cancelled = False
        self.running = False

    def start(self, command, env=None, cwd=None) -> None:
        self.command, self.env, self.running = list(command), env, True

    def cancel(self) -> None:
        self.cancelled = True

    def finish(self, returncode: int, error: str = "", write_label: bool = True) -> None:
        output = Path(self.command[self.command.index("--output") + 1])
        if write_label:
            label = np.zeros((2, 4, 5), np.uint8)
            label[1, 1:3, 1:4] = 1
            write_image(Volume(label, (1.0, 1.0, 3.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1)), output)
        self.on_event({"event": "progress", "fraction": 1.0, "task": "predict"})
        self.running = False
        self.on_finished(RunResult(returncode, self.cancelled, {}, error))

    def wait(self, timeout_s: float):
        return None


@pytest.fixture
def setup(tiny_bundle):
    workspace = MemoryWorkspace()
    image = np.linspace(0, 1, 40, dtype=np.float32).reshape(2, 4, 5)
    workspace.add_volume("t2", Volume(image, (1.0, 1.0, 3.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1)))
    logic = InferenceLogic(workspace, runner_factory=ScriptedRunner, python=["py"],
                           environment=lambda: {"X": "1"})
    request = InferenceRequest([read_bundle_summary(tiny_bundle)], ["t2"], "seg")
    return workspace, logic, request


def test_a_successful_run_is_imported_under_its_input_and_cleaned_up(setup):
    workspace, logic, request = setup
    events, outcomes = [], []
    logic.event_callbacks.append(events.append)
    logic.finished_callbacks.append(outcomes.append)
    logic.start(request)
    runner = logic.runner
    assert runner.command[:4] == ["py", "-m", "MedSegTrain", "predict"] and runner.env == {"X": "1"}
    folder = logic.job.folder
    runner.finish(0)
    (outcome,) = outcomes
    assert outcome.ok and outcome.segmentation == "seg" and events[-1]["fraction"] == 1.0
    assert workspace.segmentation("seg").labels == {"central_gland": 1, "peripheral_zone": 2}
    assert workspace.source_volume("seg") == "t2" and not folder.exists()


def test_a_failed_or_unreadable_run_adds_nothing(setup):
    workspace, logic, request = setup
    logic.start(request)
    logic.runner.finish(1, "bundle does not fit the input")
    assert not logic.outcome.ok and logic.outcome.error == "bundle does not fit the input"
    logic.start(request)
    logic.runner.finish(0, write_label=False)  # exit 0 but no label map: reported, not raised
    assert not logic.outcome.ok and "could not be read" in logic.outcome.error
    assert workspace.segmentation_ids() == []


def test_cancel_reaches_the_runner_and_one_run_at_a_time(setup):
    _workspace, logic, request = setup
    logic.start(request)
    with pytest.raises(RuntimeError, match="already running"):
        logic.start(request)
    logic.cancel()
    assert logic.runner.cancelled
    logic.runner.finish(-2)
    assert logic.outcome.result.cancelled and not logic.outcome.ok


def test_a_request_that_cannot_run_leaves_no_folder(setup, tmp_path, monkeypatch):
    _workspace, logic, request = setup
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    request.input_volumes = ["missing"]
    with pytest.raises(RequestError, match="choose a volume"):
        logic.start(request)
    assert list(tmp_path.iterdir()) == [] and not logic.running
