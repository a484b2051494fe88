"""Stochastic weight averaging with restarts (Henry et al., B7) on ``torch.optim.swa_utils``.

After the main training the learning rate restarts at ``lr_factor`` x the base rate and decays
by a cosine over ``cycle_epochs`` epochs; this repeats ``cycles`` times. Every
``snapshot_every`` epochs the weights are added to a running average (``AveragedModel``); the
result is the plain mean of all snapshots. BatchNorm statistics of the average are recomputed
(``update_bn``) when the network has BatchNorm layers; Group/InstanceNorm need nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch.optim.swa_utils import AveragedModel


class SWAPlan:
    """Learning rate and snapshot timing of the SWA phase, by epoch within the phase."""

    def __init__(self, section: Mapping[str, Any], base_lr: float) -> None:
        self.cycles = int(section.get("cycles", 5))
        self.cycle_epochs = int(section.get("cycle_epochs", 30))
        self.snapshot_every = int(section.get("snapshot_every", 3))
        self.lr = float(section.get("lr_factor", 0.5)) * float(base_lr)

    @property
    def epochs(self) -> int:
        return self.cycles * self.cycle_epochs

    def lr_at(self, epoch: int, fraction: float = 0.0) -> float:
        """Cosine decay from the restart rate within each cycle; ``fraction`` is progress in the epoch."""
        t = ((epoch % self.cycle_epochs) + fraction) / self.cycle_epochs
        return 0.5 * self.lr * (1.0 + math.cos(math.pi * min(t, 1.0)))

    def is_snapshot(self, epoch: int) -> bool:
        """Whether the weights after SWA-phase epoch ``epoch`` join the average."""
        k = epoch % self.cycle_epochs + 1
        return k % self.snapshot_every == 0 or (
            self.snapshot_every > self.cycle_epochs and k == self.cycle_epochs
        )


def new_average(model: torch.nn.Module) -> AveragedModel:
    """An empty running mean of ``model``'s weights (plain mean: ``AveragedModel``'s default)."""
    return AveragedModel(getattr(model, "module", model), use_buffers=False)


def has_batchnorm(model: torch.nn.Module) -> bool:
    """True when the network has BatchNorm layers whose statistics an average would break."""
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def finish_average(average: AveragedModel, batches: Iterable[torch.Tensor], device: torch.device) -> None:
    """Recompute BatchNorm statistics of the averaged weights on training ``batches`` when needed."""
    if has_batchnorm(average.module):
        torch.optim.swa_utils.update_bn(batches, average, device=device)
