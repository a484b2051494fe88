"""What the inference panel shows about a model bundle, from its ``model.json`` (no torch).

A bundle is a folder or a ``.zip`` of one (docs/architecture.md). ``MedSegTrain.bundle.read_meta``
validates it (every problem named); this module picks the fields a user needs to choose models
and checks that several bundles can form one ensemble.
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
    meta = _load_meta(path)
    try:
        network = meta["network"]["name"]
        labels = {str(k): int(v) for k, v in meta["labels"].items()}
        channels = tuple(str(c) for c in meta["input"]["channels"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BundleError(f"{path}: model.json lacks a valid {exc} entry") from exc
    members = meta.get("members") or []
    training = meta.get("training") or {}
    output = meta.get("output") or {}
    return BundleSummary(
        path=path,
        name=str(meta.get("name") or path.stem),
        network=str(network),
        channels=channels,
        modality=str((meta.get("input") or {}).get("modality") or "unknown"),
        labels=labels,
        regions=output.get("regions") or None,
        window=window_name((meta.get("preprocessing") or {}).get("window")),
        n_members=max(len(members), 1),
        validation_metrics=dict(training.get("validation_metrics") or {}),
    )


def window_name(window: Any) -> str:
    """The preset name recorded by a bundle's preprocessing (a name or a WindowPreset dict)."""
    if isinstance(window, str):
        return window
    if isinstance(window, dict):
        return str(window.get("name") or "custom")
    return "none"


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


def _load_meta(path: Path) -> dict[str, Any]:
    try:
        from MedSegTrain.bundle import read_meta
        from MedSegTrain.errors import MedSegError
    except ImportError as exc:
        raise BundleError(f"{path}: reading bundles needs the MedSegTrain backend ({exc})") from exc
    try:
        return read_meta(path)
    except MedSegError as exc:
        raise BundleError(str(exc)) from exc
