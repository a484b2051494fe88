"""The end-to-end check behind the Slicer self-test, runnable in any workspace (S3).

A prostate phantom (a seed the test bundle never trained on) enters the workspace with its
reference segmentation, the bundle runs through ``medsegtrain predict`` in a background process,
and the result is compared with the reference. The Slicer self-test calls this with the scene's
workspace; pytest calls it with a :class:`~.workspace.MemoryWorkspace`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .bundle_info import read_bundle_summary
from .comparison import Comparison, compare
from .inference_job import InferenceJob, InferenceRequest, backend_environment
from .process_runner import ProcessRunner, RunResult
from .workspace import Segmentation

TEST_BUNDLE = Path(__file__).resolve().parents[1] / "Testing" / "Data" / "prostate_tiny"
PHANTOM_KIND = "prostate-mri"
PHANTOM_SEED = 2024
MIN_MEAN_DICE = 0.70


class SelfTestFailure(AssertionError):
    """The module did not produce the expected segmentation."""


@dataclass
class SelfTestOutcome:
    """What the check produced."""

    volume: str
    reference: str
    prediction: str
    comparison: Comparison

    @property
    def mean_dice(self) -> float:
        """Mean Dice over the compared segments."""
        values = [m["dice"] for m in self.comparison.metrics.values()]
        return sum(values) / len(values)


def add_phantom(workspace, seed: int = PHANTOM_SEED) -> tuple[str, str]:
    """A prostate phantom volume and its reference segmentation in ``workspace``; returns their names."""
    from MedSegTrain.data.phantoms import KINDS, case_rng, make_phantom_case

    channels, label = make_phantom_case(PHANTOM_KIND, case_rng(seed, 0))
    volume = workspace.add_volume("selftest_prostate", channels[0])
    labels = {name: value for name, value in KINDS[PHANTOM_KIND]["labels"].items() if value != 0}
    reference = workspace.add_segmentation("selftest_reference", Segmentation(label, labels),
                                           reference_volume=volume)
    return volume, reference


def run_inference(workspace, request: InferenceRequest, timeout_s: float = 600.0,
                  python: list[str] | None = None) -> tuple[RunResult, str | None]:
    """Run one request to the end (blocking, Qt events keep flowing); returns the result and the
    new segmentation's name (None unless the run succeeded)."""
    job = InferenceJob(request, workspace)
    runner = ProcessRunner(lambda _event: None, lambda _result: None)
    try:
        runner.start(job.command(python), env=backend_environment())
        result = runner.wait(timeout_s)
        if result is None:
            runner.cancel()
            result = runner.wait(10.0)
            raise SelfTestFailure(f"inference did not finish within {timeout_s:.0f} s")
        name = job.import_results()[0] if result.ok else None
        return result, name
    finally:
        job.cleanup()


def run_selftest(workspace, bundle: Path = TEST_BUNDLE, min_mean_dice: float = MIN_MEAN_DICE,
                 python: list[str] | None = None, timeout_s: float = 600.0) -> SelfTestOutcome:
    """Phantom → ensemble inference → comparison; raises :class:`SelfTestFailure` below ``min_mean_dice``."""
    volume, reference = add_phantom(workspace)
    request = InferenceRequest(bundles=[read_bundle_summary(bundle)], input_volumes=[volume],
                               output_name="selftest_prediction")
    result, prediction = run_inference(workspace, request, timeout_s, python)
    if prediction is None:
        raise SelfTestFailure(f"inference failed (exit status {result.returncode}): {result.error}")
    comparison = compare(workspace.segmentation(reference), workspace.segmentation(prediction),
                         reference, prediction)
    outcome = SelfTestOutcome(volume, reference, prediction, comparison)
    if not outcome.mean_dice >= min_mean_dice:
        raise SelfTestFailure(f"mean Dice {outcome.mean_dice:.3f} is below {min_mean_dice}")
    return outcome
