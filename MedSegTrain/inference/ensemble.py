"""Ensembles of bundles (B8): check they fit the input and each other, group them by grid.

Every member of every bundle counts once in the average of probabilities. Bundles that replay
the same preprocessing and window settings share one prepared image and one window grid (their
members run side by side through :func:`MedSegTrain.inference.runner.run_ensemble`); bundles
that differ (spacing, normalisation, 2D vs 3D ...) each run on their own grid and their
probabilities are brought back onto the input grid by their own ``PreprocessingSpec.restore``
before averaging. All checks here run before any preprocessing or network work.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from MedSegTrain.bundle.meta import InferenceSettings, thaw
from MedSegTrain.bundle.output import OutputSpec
from MedSegTrain.errors import MedSegError


@dataclass
class BundleGroup:
    """Bundles that share preprocessing and window settings, hence one grid."""

    preprocessing: dict[str, Any]
    settings: InferenceSettings
    bundles: list[Any] = field(default_factory=list)

    @property
    def n_members(self) -> int:
        return sum(b.n_members for b in self.bundles)


def check_ensemble(bundles: Sequence[Any], n_channels: int, overlap: float | None = None) -> OutputSpec:
    """Refuse, before any work, bundles that do not fit the input or each other.

    Each bundle must accept ``n_channels`` input channels, declare outputs consistent with its
    network, and every bundle must declare the same labels, activation and regions (their
    probabilities are averaged channel by channel).
    """
    if not bundles:
        raise MedSegError("--bundle: give at least one model bundle")
    first: OutputSpec | None = None
    first_name = ""
    for bundle in bundles:
        name = str(getattr(bundle, "path", "bundle"))
        bundle.check_input(n_channels)
        info = bundle.info
        spec = info.output
        out = info.network.out_channels
        if out is not None and out != spec.n_channels:
            raise MedSegError(f"{name}: the network has {out} output channels but model.json declares "
                              f"{spec.n_channels} ({', '.join(spec.channel_names)})")
        info.inference.with_overlap(overlap, name)
        if bundle.n_members < 1:
            raise MedSegError(f"{name}: the bundle holds no members (weights)")
        if first is None:
            first, first_name = spec, name
        elif spec != first:
            raise MedSegError(f"{name}: its labels/outputs ({spec.activation}, {spec.channel_names}, "
                              f"{spec.labels}) differ from {first_name}'s ({first.activation}, "
                              f"{first.channel_names}, {first.labels}); average only bundles of "
                              "the same task, or merge their label maps (merge_label_maps)")
    assert first is not None
    return first


def group_bundles(bundles: Sequence[Any], overlap: float | None = None) -> list[BundleGroup]:
    """Group bundles by identical preprocessing and inference settings, keeping first-seen order."""
    groups: dict[str, BundleGroup] = {}
    for bundle in bundles:
        name = str(getattr(bundle, "path", "bundle"))
        preprocessing = thaw(bundle.info.preprocessing)
        settings = bundle.info.inference.with_overlap(overlap, name)
        key = json.dumps([preprocessing, settings.plan_key()], sort_keys=True, default=str)
        groups.setdefault(key, BundleGroup(preprocessing, settings)).bundles.append(bundle)
    return list(groups.values())


def weighted_average(parts: Sequence[tuple[np.ndarray, int]]) -> np.ndarray:
    """The average of probability maps weighted by the number of predictions behind each."""
    total = sum(weight for _probs, weight in parts)
    if not parts or total <= 0:
        raise ValueError("nothing to average")
    out = np.zeros_like(parts[0][0], dtype=np.float32)
    for probs, weight in parts:
        out += probs.astype(np.float32, copy=False) * np.float32(weight / total)
    return out
