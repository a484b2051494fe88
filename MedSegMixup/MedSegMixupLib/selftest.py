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
from .inference_job import InferenceRequest
from .inference_logic import InferenceLogic
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


def run_selftest(workspace, bundle: Path = TEST_BUNDLE, min_mean_dice: float = MIN_MEAN_DICE,
                 python: list[str] | None = None, timeout_s: float = 600.0) -> SelfTestOutcome:
    """Phantom → ensemble inference → comparison; raises :class:`SelfTestFailure` below ``min_mean_dice``."""
    volume, reference = add_phantom(workspace)
    request = InferenceRequest(bundles=[read_bundle_summary(bundle)], input_volumes=[volume],
                               output_name="selftest_prediction")
    try:
        outcome = InferenceLogic(workspace, python=python).run(request, timeout_s)
    except TimeoutError as exc:
        raise SelfTestFailure(str(exc)) from exc
    if not outcome.ok:
        raise SelfTestFailure(f"inference failed (exit status {outcome.result.returncode}): {outcome.error}")
    prediction = outcome.segmentation
    comparison = compare(workspace.segmentation(reference), workspace.segmentation(prediction),
                         workspace.display_name(reference), workspace.display_name(prediction))
    result = SelfTestOutcome(volume, reference, prediction, comparison)
    if not result.mean_dice >= min_mean_dice:
        raise SelfTestFailure(f"mean Dice {result.mean_dice:.3f} is below {min_mean_dice}")
    return result
