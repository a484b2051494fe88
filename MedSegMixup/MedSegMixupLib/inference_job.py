"""One ensemble inference: input files, the ``medsegtrain predict`` command, and its results.

The panel (and the Slicer Logic) hand a request to :class:`InferenceJob`; the job writes the
inputs into a private folder, builds the command for a :class:`~.process_runner.ProcessRunner`,
and afterwards turns the label map (and optional uncertainty map) into workspace items. The input
volumes are only read, never modified.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .bundle_info import BundleSummary, ensemble_problem
from .dependencies import backend_folder
from .qt_shim import IN_SLICER
from .workspace import Segmentation


def backend_python() -> list[str]:
    """The interpreter that runs the backend: Slicer's ``PythonSlicer`` inside Slicer, else this one."""
    if IN_SLICER:
        launcher = shutil.which("PythonSlicer") or shutil.which(
            "PythonSlicer", path=os.path.dirname(sys.executable))
        if launcher:
            return [launcher]
    return [sys.executable]


def backend_environment() -> dict[str, str]:
    """Environment of the backend process: Slicer's startup environment (what launchConsoleProcess
    uses; it holds none of Slicer's Python paths, which the ``PythonSlicer`` launcher adds back), with
    the folder of the bundled MedSegTrain first on ``PYTHONPATH``; outside Slicer this process's own."""
    if IN_SLICER:
        import slicer

        env = dict(slicer.util.startupEnvironment())
    else:
        env = dict(os.environ)
    folder = backend_folder(Path(__file__).resolve().parents[1])
    if folder is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(folder), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def predict_command(bundles: list[Path], inputs: list[Path], output: Path, tta: int = 0, device: str = "auto",
                    uncertainty: Path | None = None, python: list[str] | None = None,
                    window: tuple[float, float] | None = None, time_limit: float | None = None) -> list[str]:
    """The ``medsegtrain predict`` command line with JSON progress; ``window`` (width, level) replaces
    the bundles' own window, so the models see the image windowed once, as shown on screen;
    ``time_limit`` (seconds) lets the backend drop TTA variants, then models, to finish in time."""
    command = [*(python or backend_python()), "-m", "MedSegTrain", "predict"]
    for bundle in bundles:
        command += ["--bundle", str(bundle)]
    for channel in inputs:
        command += ["--input", str(channel)]
    command += ["--output", str(output), "--tta", str(int(tta)), "--device", device, "--progress", "json"]
    if uncertainty is not None:
        command += ["--uncertainty", str(uncertainty)]
    if window is not None:
        command += ["--window", f"{float(window[0])!r},{float(window[1])!r}"]
    if time_limit is not None:
        command += ["--time-limit", f"{float(time_limit)!r}"]
    return command


class RequestError(ValueError):
    """An inference request the user must fix (message says what)."""


@dataclass
class InferenceRequest:
    """What the user asked for."""

    bundles: list[BundleSummary]
    input_volumes: list[str]
    output_name: str
    tta: int = 0
    device: str = "auto"
    uncertainty: bool = False
    display_window: tuple[float, float] | None = None  # (width, level) replacing the models' window
    time_limit: float | None = None  # seconds; None = every model and TTA variant, however long
    show_3d: bool = False

    def check(self, workspace) -> None:
        """Raise :class:`RequestError` for anything that would make the run fail."""
        if not self.bundles:
            raise RequestError("add at least one model bundle")
        problem = ensemble_problem(self.bundles)
        if problem:
            raise RequestError(problem)
        channels = self.bundles[0].channels
        if len(self.input_volumes) != len(channels):
            raise RequestError(f"the models expect {len(channels)} input channel(s) ({', '.join(channels)}), "
                               f"{len(self.input_volumes)} chosen")
        available = set(workspace.volume_ids())
        for channel, item_id in zip(channels, self.input_volumes, strict=True):
            if not item_id or item_id not in available:
                raise RequestError(f"choose a volume for input channel '{channel}'")
        if not self.output_name.strip():
            raise RequestError("give the result segmentation a name")
        if self.device not in ("auto", "cpu", "cuda"):
            raise RequestError(f"device {self.device!r} is not one of auto, cpu, cuda")
        from MedSegTrain.predict_options import OptionError, PredictOptions  # no torch: see its docstring

        try:
            PredictOptions(tta=self.tta, device=self.device, time_limit=self.time_limit).validate()
        except OptionError as exc:
            raise RequestError(str(exc)) from exc
        if self.display_window is not None and not self.display_window[0] > 0:
            raise RequestError(f"the display window width must be positive, got {self.display_window[0]}")

    @property
    def n_models(self) -> int:
        """Number of networks that will run (members of all bundles)."""
        return sum(bundle.n_members for bundle in self.bundles)


class InferenceJob:
    """Files and command of one run, and the import of its results."""

    def __init__(self, request: InferenceRequest, workspace) -> None:
        request.check(workspace)
        self.request = request
        self.workspace = workspace
        self.folder = Path(tempfile.mkdtemp(prefix="medsegmixup-predict-"))
        self.output = self.folder / "prediction.nrrd"
        self.uncertainty = self.folder / "uncertainty.nrrd" if request.uncertainty else None

    def command(self, python: list[str] | None = None) -> list[str]:
        """Write the inputs and return the command to run."""
        inputs = [self.workspace.volume_file(item_id, self.folder) for item_id in self.request.input_volumes]
        return predict_command([b.path for b in self.request.bundles], inputs, self.output, self.request.tta,
                               self.request.device, self.uncertainty, python, self.request.display_window,
                               self.request.time_limit)

    def import_results(self) -> tuple[str, str | None]:
        """Add the predicted segmentation (and uncertainty overlay) to the workspace under the first
        input; returns their IDs."""
        from MedSegTrain.io import read_image

        labelmap = read_image(self.output)
        bundle = self.request.bundles[0]
        source = self.request.input_volumes[0]
        segmentation = Segmentation(labelmap, bundle.segment_labels)
        item_id = self.workspace.add_segmentation(self.request.output_name, segmentation,
                                                  reference_volume=source, show_3d=self.request.show_3d)
        uncertainty_id = None
        if self.uncertainty is not None and self.uncertainty.exists():
            name = f"{self.workspace.display_name(item_id)}_uncertainty"
            uncertainty_id = self.workspace.add_overlay(name, read_image(self.uncertainty), over=source)
        return item_id, uncertainty_id

    def cleanup(self) -> None:
        """Delete the private folder (inputs copies, outputs already imported or abandoned)."""
        shutil.rmtree(self.folder, ignore_errors=True)
