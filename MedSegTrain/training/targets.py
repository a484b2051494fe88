"""What the network's output channels are trained to be: softmax classes or sigmoid regions (B4).

The config's ``output`` section chooses:

* ``activation: softmax`` (default): one channel per label, background first; the target is the
  cached label map of channel indices, as the losses take it;
* ``activation: sigmoid`` with ``regions: dataset`` (the regions of the dataset's
  ``dataset.json``, e.g. BraTS ``WT = {1, 2, 3}, TC = {1, 3}, ET = {3}``) or an explicit
  ``{name: [label values]}``: one channel per region, each an independent binary target
  (``1`` where the voxel's label belongs to the region), so the regions may overlap;
* ``activation: sigmoid`` without regions: one binary channel per foreground label.

``region_rebuild`` (``[{region: TC, label: 1}, ...]``) says how a label map is painted back from
the regions (B8) where the nesting leaves it open, e.g. BraTS 2015's TC = {1, 3, 4}.

:class:`OutputPlan` turns integer label batches into those targets (:meth:`OutputPlan.encode`),
judges predictions per channel (:meth:`OutputPlan.predicted_masks`) and writes the bundle's
``output`` declaration: the bundle's output contract, :class:`MedSegTrain.bundle.output.OutputSpec`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from MedSegTrain.bundle.meta import parse_output
from MedSegTrain.bundle.output import THRESHOLD, OutputSpec
from MedSegTrain.errors import MedSegError
from MedSegTrain.metrics.overlap import dice, mask_counts


@dataclass(frozen=True)
class OutputPlan:
    """The output channels of one training run and how targets and predictions map onto them."""

    spec: OutputSpec
    label_values: tuple[int, ...]
    """Sorted label values; the cached label maps hold indices into this tuple."""

    @classmethod
    def from_config(cls, section: Mapping[str, Any], labels: Mapping[str, int],
                    dataset_regions: Mapping[str, Sequence[int]] | None) -> OutputPlan:
        """The plan for the config's ``output`` section and a dataset's labels and regions."""
        activation = str(section.get("activation", "softmax"))
        regions = section.get("regions")
        if regions == "dataset":
            if not dataset_regions:
                raise MedSegError("output.regions = dataset: the dataset's dataset.json declares no "
                                  "'regions'; give them as {name: [label values]}")
            regions = dataset_regions
        if regions is not None and activation != "sigmoid":
            raise MedSegError("output.regions needs output.activation = sigmoid (regions may overlap)")
        chosen = None if regions is None else {str(k): tuple(map(int, vals)) for k, vals in regions.items()}
        steps = section.get("region_rebuild")
        if steps is not None and chosen is None:
            raise MedSegError("output.region_rebuild needs output.regions")
        rebuild = None if steps is None else tuple((str(s["region"]), int(s["label"])) for s in steps)
        spec = OutputSpec(activation, {str(k): int(v) for k, v in labels.items()}, chosen, rebuild)
        spec.validate("training config output")
        return cls(spec, tuple(sorted(int(v) for v in labels.values())))

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], source: str = "model.json") -> OutputPlan:
        """The plan a bundle's ``model.json`` declares (labels, activation, regions, rebuild)."""
        return cls.from_spec(parse_output(meta, source))

    @classmethod
    def from_spec(cls, spec: OutputSpec) -> OutputPlan:
        """The plan of a bundle's parsed output contract (``BundleMeta.output``)."""
        return cls(spec, tuple(sorted(spec.labels.values())))

    @classmethod
    def softmax(cls, labels: Mapping[str, int]) -> OutputPlan:
        """One softmax channel per label (the default)."""
        return cls.from_config({}, labels, None)

    @property
    def activation(self) -> str:
        return self.spec.activation

    @property
    def n_channels(self) -> int:
        return self.spec.n_channels

    @property
    def channel_names(self) -> list[str]:
        return self.spec.channel_names

    @property
    def scored_channels(self) -> list[int]:
        """The channels validation scores: every one but softmax's background."""
        if self.activation == "softmax":
            return [i for i, name in enumerate(self.channel_names) if self.spec.labels[name] != 0]
        return list(range(self.n_channels))

    def bundle_output(self) -> dict[str, Any]:
        """The ``output`` entry of ``model.json`` (docs/architecture.md)."""
        return self.spec.to_dict("training config output")

    def membership(self) -> np.ndarray:
        """``(n_labels, n_channels)``: 1 where the label at that index belongs to the channel."""
        table = np.zeros((len(self.label_values), self.n_channels), dtype=np.float32)
        index = {v: i for i, v in enumerate(self.label_values)}
        for c, name in enumerate(self.channel_names):
            members = self.spec.regions[name] if self.spec.regions is not None else (self.spec.labels[name],)
            for value in members:
                table[index[value], c] = 1.0
        return table

    def encode(self, labels: torch.Tensor) -> torch.Tensor:
        """The training target for integer label indices ``(N, 1, *spatial)``.

        Softmax: the labels unchanged. Sigmoid: float ``(N, n_channels, *spatial)`` of 0/1.
        """
        if self.activation == "softmax":
            return labels
        table = torch.from_numpy(self.membership()).to(labels.device)
        return table[labels[:, 0].long()].movedim(-1, 1).contiguous()

    def predicted_masks(self, probabilities: torch.Tensor) -> torch.Tensor:
        """Boolean ``(len(scored_channels), *spatial)`` masks from probabilities ``(K, *spatial)``."""
        if self.activation == "softmax":
            winner = probabilities.argmax(0)
            return torch.stack([winner == c for c in self.scored_channels])
        return probabilities >= THRESHOLD

    def reference_masks(self, labels: torch.Tensor) -> torch.Tensor:
        """Boolean masks like :meth:`predicted_masks` from a label-index map ``(*spatial)``."""
        if self.activation == "sigmoid":
            return self.encode(labels[None, None].long())[0] > 0.5
        return torch.stack([labels == c for c in self.scored_channels])


def dice_of_masks(pred: torch.Tensor, ref: torch.Tensor) -> list[float]:
    """Dice per leading channel of two boolean stacks (both empty -> 1, FORMULAS.md)."""
    return [dice(mask_counts(p, r)) for p, r in zip(pred, ref, strict=True)]
