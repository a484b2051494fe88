"""The predict command, request checks, and the clipped-input option of an inference job."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from MedSegMixupLib.bundle_info import read_bundle_summary
from MedSegMixupLib.inference_job import (
    InferenceJob,
    InferenceRequest,
    RequestError,
    backend_python,
    predict_command,
)
from MedSegMixupLib.workspace import MemoryWorkspace

from MedSegTrain.io import Volume, read_image


def test_command_line_of_predict():
    command = predict_command([Path("a"), Path("b.zip")], [Path("t1.nrrd"), Path("t2.nrrd")],
                              Path("out.nrrd"), tta=8, device="cpu", uncertainty=Path("u.nrrd"),
                              python=["py"])
    assert command == ["py", "-m", "MedSegTrain", "predict", "--bundle", "a", "--bundle", "b.zip",
                       "--input", "t1.nrrd", "--input", "t2.nrrd", "--output", "out.nrrd", "--tta", "8",
                       "--device", "cpu", "--progress", "json", "--uncertainty", "u.nrrd"]
    assert backend_python() == [sys.executable]  # outside Slicer: this interpreter
    limited = predict_command([Path("a")], [Path("t1.nrrd")], Path("out.nrrd"), python=["py"], time_limit=90)
    assert limited[-2:] == ["--time-limit", "90.0"]


@pytest.fixture
def workspace():
    space = MemoryWorkspace()
    ramp = np.linspace(0, 2000, 2 * 4 * 5, dtype=np.float32).reshape(2, 4, 5)
    space.add_volume("mr", Volume(ramp, (1.0, 1.0, 3.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1)))
    return space


@pytest.mark.parametrize("change, message", [
    ({"bundles": []}, "at least one model bundle"),
    ({"input_volumes": ["mr", "mr"]}, "1 input channel"),
    ({"input_volumes": ["gone"]}, "input channel 'T2'"),
    ({"output_name": "  "}, "name"),
    ({"device": "tpu"}, "device"),
])
def test_requests_that_cannot_run_are_refused(workspace, tiny_bundle, change, message):
    fields = {"bundles": [read_bundle_summary(tiny_bundle)], "input_volumes": ["mr"], "output_name": "seg"}
    request = InferenceRequest(**{**fields, **change})
    with pytest.raises(RequestError, match=message):
        InferenceJob(request, workspace)


def test_display_window_reaches_the_backend_once_and_the_input_stays_raw(workspace, tiny_bundle):
    request = InferenceRequest([read_bundle_summary(tiny_bundle)], ["mr"], "seg",
                               display_window=(350.0, 40.0))
    job = InferenceJob(request, workspace)
    try:
        command = job.command(python=["py"])
        assert command[command.index("--window") + 1] == "350.0,40.0"  # replaces the models' own window
        written = Path(command[command.index("--input") + 1])
        original = workspace.volume("mr").array
        assert np.array_equal(read_image(written).array, original)  # not clipped here: windowed once
        assert original.max() == 2000
        assert written.parent == job.folder
    finally:
        job.cleanup()
    assert not job.folder.exists()
    with pytest.raises(RequestError, match="width must be positive"):
        InferenceJob(InferenceRequest([read_bundle_summary(tiny_bundle)], ["mr"], "seg",
                                      display_window=(0.0, 40.0)), workspace)
