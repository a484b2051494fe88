"""Learning-rate schedules as a function of training progress in [0, 1].

Progress is the larger of "steps done / steps planned" and "time used / time budget", so a
``--time-budget`` run anneals fully by the time it stops instead of ending at a high rate.
Shapes: constant; cosine annealing (T6); cosine decay that starts after a fraction of training
(B7: after half the epochs); polynomial decay towards a minimum rate (L6: 3e-4 -> 1e-6; nnU-Net's
poly 0.9). An optional linear warm-up over the first steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from MedSegTrain.errors import MedSegError


def _constant(t: float, start_fraction: float, power: float) -> float:
    return 1.0


def _cosine(t: float, start_fraction: float, power: float) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * t))


def _cosine_after(t: float, start_fraction: float, power: float) -> float:
    if t <= start_fraction:
        return 1.0
    span = 1.0 - start_fraction
    return 0.5 * (1.0 + math.cos(math.pi * (t - start_fraction) / span)) if span > 0 else 0.0


def _poly(t: float, start_fraction: float, power: float) -> float:
    return (1.0 - t) ** power


SCHEDULES: dict[str, Callable[[float, float, float], float]] = {
    "constant": _constant, "cosine": _cosine, "cosine_after": _cosine_after, "poly": _poly,
}
"""Each ``schedule.name``'s factor of (progress, start_fraction, power); the config schema takes
its choices from here."""


def lr_factor(name: str, progress: float, start_fraction: float = 0.5, power: float = 0.9) -> float:
    """The fraction (1 -> 0) of the way from ``min_lr`` to the base rate at ``progress``."""
    if name not in SCHEDULES:
        raise MedSegError(f"schedule.name '{name}': unknown; choose one of {', '.join(SCHEDULES)}")
    return SCHEDULES[name](min(max(float(progress), 0.0), 1.0), start_fraction, power)


class LRSchedule:
    """Sets the learning rate of every parameter group from progress and step count."""

    def __init__(self, section: Mapping[str, Any], base_lr: float) -> None:
        self.name = str(section.get("name", "constant"))
        self.base_lr = float(base_lr)
        self.min_lr = min(float(section.get("min_lr", 0.0)), self.base_lr)
        self.start_fraction = float(section.get("start_fraction", 0.5))
        self.power = float(section.get("power", 0.9))
        self.warmup_steps = int(section.get("warmup_steps", 0))
        lr_factor(self.name, 0.0)  # validates the name early

    def lr_at(self, progress: float, step: int = 10**12) -> float:
        """The rate at ``progress`` (and ``step`` for the warm-up)."""
        lr = self.min_lr + (self.base_lr - self.min_lr) * lr_factor(
            self.name, progress, self.start_fraction, self.power
        )
        if self.warmup_steps and step < self.warmup_steps:
            lr *= (step + 1) / self.warmup_steps
        return lr

    def apply(self, optimizer: Any, progress: float, step: int) -> float:
        """Write the rate into ``optimizer``'s groups; returns it."""
        lr = self.lr_at(progress, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr
