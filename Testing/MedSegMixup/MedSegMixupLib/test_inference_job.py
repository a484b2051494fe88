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
from MedSegTrain.preprocessing.windowing import get_preset


def test_command_line_of_predict():
    command = predict_command([Path("a"), Path("b.zip")], [Path("t1.nrrd"), Path("t2.nrrd")],
                              Path("out.nrrd"), tta=8, device="cpu", uncertainty=Path("u.nrrd"),
                              python=["py"])
    assert command == ["py", "-m", "MedSegTrain", "predict", "--bundle", "a", "--bundle", "b.zip",
                       "--input", "t1.nrrd", "--input", "t2.nrrd", "--output", "out.nrrd", "--tta", "8",
                       "--device", "cpu", "--progress", "json", "--uncertainty", "u.nrrd"]
    assert backend_python() == [sys.executable]  # outside Slicer: this interpreter


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


def test_clip_to_the_display_window_feeds_a_clipped_copy(workspace, tiny_bundle):
    preset = get_preset("ct-abdomen")  # [-135, 215]
    request = InferenceRequest([read_bundle_summary(tiny_bundle)], ["mr"], "seg", clip_window=preset)
    job = InferenceJob(request, workspace)
    try:
        command = job.command(python=["py"])
        written = Path(command[command.index("--input") + 1])
        original = workspace.volume("mr").array
        assert np.array_equal(read_image(written).array, np.clip(original, -135, 215))
        assert original.max() == 2000  # the volume itself is untouched
        assert written.parent == job.folder
    finally:
        job.cleanup()
    assert not job.folder.exists()
