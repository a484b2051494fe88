"""The bundle's output contract: what each network channel means, and the label map made from it (B8).

Training writes it (:class:`MedSegTrain.training.targets.OutputPlan` holds one), the bundle stores
it (``model.json`` -> ``labels`` and ``output``, read by :func:`MedSegTrain.bundle.meta.parse_output`)
and inference decodes averaged probabilities with it: argmax for softmax, 0.5 for sigmoid regions.

* ``output.activation == "softmax"``: channel ``i`` is the ``i``-th label in increasing value
  order (background 0 first); the label map is the argmax, mapped to the label values.
* ``"sigmoid"`` with ``output.regions`` (BraTS style, ``{"WT": [1, 2, 4], "TC": [1, 4],
  "ET": [4]}``): channel ``i`` is the ``i``-th region; each is on where its probability is
  >= 0.5, and the labels are rebuilt by painting regions in order, a later one over an earlier
  one. ``output.region_rebuild`` names that order and the painted values as
  ``[{"region": "WT", "label": 2}, {"region": "TC", "label": 1}, {"region": "ET", "label": 4}]``
  (which is exactly NET = TC − ET, ED = WT − TC); when it is null the order is derived from the
  nesting — larger regions first, each painting the one value it holds that no smaller region
  holds.
* ``"sigmoid"`` without regions: channel ``i`` is the ``i``-th non-background label; a voxel takes
  the most probable label among those >= 0.5, else background.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from MedSegTrain.errors import MedSegError

THRESHOLD = 0.5


@dataclass(frozen=True)
class OutputSpec:
    """What each output channel means and how a label map is made from it."""

    activation: str
    labels: dict[str, int]
    regions: dict[str, tuple[int, ...]] | None = None
    rebuild: tuple[tuple[str, int], ...] | None = None

    def to_dict(self, source: str = "model.json") -> dict[str, Any]:
        """The ``output`` entry of ``model.json``; sigmoid regions always carry their painting order."""
        regions = self.regions
        return {
            "activation": self.activation,
            "regions": None if regions is None else {k: list(v) for k, v in regions.items()},
            "region_rebuild": None if regions is None
            else [{"region": r, "label": v} for r, v in self.rebuild_order(source)],
        }

    def validate(self, source: str = "model.json") -> None:
        """Raise :class:`MedSegError` where the declaration is inconsistent."""
        if self.activation not in ("softmax", "sigmoid"):
            raise MedSegError(f"{source}: output.activation must be 'softmax' or 'sigmoid', "
                              f"got {self.activation!r}")
        values = set(self.labels.values())
        if len(values) != len(self.labels):
            raise MedSegError(f"{source}: two labels share a value in {self.labels}")
        if self.regions is not None:
            if self.activation != "sigmoid":
                raise MedSegError(f"{source}: output.regions needs output.activation 'sigmoid'")
            for name, members in self.regions.items():
                unknown = set(members) - values
                if unknown or not members:
                    raise MedSegError(f"{source}: region {name!r} holds undeclared label values "
                                      f"{sorted(unknown)} (labels: {sorted(values)})")
            for region, _label in self.rebuild_order(source):
                if region not in self.regions:
                    raise MedSegError(f"{source}: output.region_rebuild names unknown region {region!r}")
        elif self.rebuild is not None:
            raise MedSegError(f"{source}: output.region_rebuild needs output.regions")

    @property
    def channel_names(self) -> list[str]:
        """The meaning of each output channel, in channel order."""
        if self.regions is not None:
            return list(self.regions)
        ordered = sorted(self.labels.items(), key=lambda item: item[1])
        if self.activation == "sigmoid":
            return [name for name, value in ordered if value != 0]
        return [name for name, _value in ordered]

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

    @property
    def background_fill(self) -> list[float]:
        """Per-channel probability for voxels the network never saw (outside a crop)."""
        if self.activation == "softmax":
            return [1.0 if self.labels[name] == 0 else 0.0 for name in self.channel_names]
        return [0.0] * self.n_channels

    def rebuild_order(self, source: str = "model.json") -> tuple[tuple[str, int], ...]:
        """``(region, painted label)`` in painting order (declared, or derived from the nesting)."""
        if self.regions is None:
            return ()
        if self.rebuild is not None:
            return self.rebuild
        order = sorted(self.regions, key=lambda name: -len(self.regions[name]))  # type: ignore[index]
        steps = []
        for i, name in enumerate(order):
            later = {v for other in order[i + 1:] for v in self.regions[other]}
            own = sorted(set(self.regions[name]) - later)
            if len(own) != 1:
                raise MedSegError(f"{source}: cannot derive the label painted by region {name!r} "
                                  f"(candidates {own}); declare output.region_rebuild")
            steps.append((name, own[0]))
        return tuple(steps)

    def decode(self, probabilities: np.ndarray) -> np.ndarray:
        """The label map ``(z, y, x)`` from probabilities ``(K, z, y, x)``."""
        probs = np.asarray(probabilities)
        if probs.ndim < 2 or probs.shape[0] != self.n_channels:
            raise MedSegError(f"expected {self.n_channels} probability channels "
                              f"({', '.join(self.channel_names)}), got array of shape {probs.shape}")
        dtype = label_dtype(self.labels.values())
        if self.activation == "softmax":
            values = np.array([self.labels[n] for n in self.channel_names], dtype=dtype)
            return values[np.argmax(probs, axis=0)]
        if self.regions is not None:
            masks = {name: probs[i] >= THRESHOLD for i, name in enumerate(self.channel_names)}
            return rebuild_labels(masks, self.rebuild_order(), dtype)
        values = np.array([self.labels[n] for n in self.channel_names], dtype=dtype)
        best = np.argmax(probs, axis=0)
        on = np.take_along_axis(probs, best[None], axis=0)[0] >= THRESHOLD
        return np.where(on, values[best], np.zeros((), dtype=dtype))


def rebuild_labels(masks: Mapping[str, np.ndarray], order: Sequence[tuple[str, int]],
                   dtype: Any = np.uint8) -> np.ndarray:
    """Paint boolean region ``masks`` in ``order`` (later over earlier) into one label map (B8)."""
    first = next(iter(masks.values()))
    out = np.zeros(np.shape(first), dtype=dtype)
    for region, value in order:
        out[np.asarray(masks[region], dtype=bool)] = value
    return out


def label_dtype(values: Any) -> np.dtype:
    """The smallest unsigned/signed integer type that holds every label value."""
    values = list(values)
    low, high = min(values), max(values)
    for dtype in (np.uint8, np.uint16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return np.dtype(dtype)
    return np.dtype(np.int64)
