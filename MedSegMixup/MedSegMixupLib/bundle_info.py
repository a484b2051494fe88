"""What the inference panel shows about a model bundle, from its ``model.json`` (no torch).

A bundle is a folder or a ``.zip`` of one (docs/architecture.md). ``MedSegTrain.bundle.read_info``
validates and parses it (every problem named) into a ``BundleMeta``; this module picks the fields
a user needs to choose models and checks that several bundles can form one ensemble.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class BundleError(ValueError):
    """A bundle that cannot be shown: the message names the file and the problem."""


@dataclass(frozen=True)
class BundleSummary:
    """The display facts of one bundle."""

    path: Path
    name: str
    network: str
    channels: tuple[str, ...]
    modality: str
    labels: dict[str, int]
    regions: dict[str, list[int]] | None
    window: str
    n_members: int
    validation_metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def segment_labels(self) -> dict[str, int]:
        """Label names and values without the background."""
        return {name: value for name, value in self.labels.items() if value != 0}

    def score_text(self) -> str:
        """The headline validation score, e.g. ``Dice 0.873``, or ``–`` when the bundle has none."""
        dice = headline_dice(self.validation_metrics)
        return f"Dice {dice:.3f}" if dice is not None else "–"


def read_bundle_summary(path: str | Path) -> BundleSummary:
    """The summary of the bundle at ``path`` (folder or .zip); :class:`BundleError` when unreadable."""
    path = Path(path)
    info = _load_info(path)
    return BundleSummary(
        path=path,
        name=info.name or path.stem,
        network=info.network.name,
        channels=tuple(info.channels),
        modality=info.modality or "unknown",
        labels=info.labels,
        regions=info.regions or None,
        window=info.window_name,
        n_members=max(info.n_members, 1),
        validation_metrics=info.metrics_dict(),
    )


def headline_dice(metrics: dict[str, Any]) -> float | None:
    """The mean Dice in validation metrics: a number under a key containing ``dice``, or the mean
    of the numbers in a per-label ``dice`` mapping."""
    for key, value in metrics.items():
        if "dice" not in str(key).lower():
            continue
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
        if isinstance(value, dict):
            numbers = [float(v) for v in value.values() if isinstance(v, (int, float)) and math.isfinite(v)]
            if numbers:
                return sum(numbers) / len(numbers)
    return None


def ensemble_problem(summaries: list[BundleSummary]) -> str:
    """Why these bundles cannot form one ensemble (different labels or inputs), or ``""``."""
    if not summaries:
        return ""
    first = summaries[0]
    for other in summaries[1:]:
        if other.labels != first.labels:
            return (f"'{other.name}' predicts labels {other.labels} but '{first.name}' predicts "
                    f"{first.labels}: an ensemble must share its labels")
        if other.channels != first.channels:
            return (f"'{other.name}' expects input channels {list(other.channels)} but '{first.name}' "
                    f"expects {list(first.channels)}")
    return ""


def _load_info(path: Path) -> Any:
    # MedSegTrain is imported here, not at the top: this module is imported when the panel is
    # built, and inside Slicer the backend's third-party packages may not be installed yet.
    try:
        from MedSegTrain.bundle import read_info
        from MedSegTrain.errors import MedSegError
    except ImportError as exc:
        raise BundleError(f"{path}: reading bundles needs the MedSegTrain backend ({exc})") from exc
    try:
        return read_info(path)
    except MedSegError as exc:
        raise BundleError(str(exc)) from exc

