"""``PredictOptions``: the settings of one prediction run, checked once and shared.

``medsegtrain predict``, the demo and the Slicer module describe a run with the same frozen
object, so a bad value is refused before any work, with the same words everywhere. The checks
here need no torch (the Slicer module builds the object without the backend); what depends on
the machine (is CUDA there, does the CPU compute bfloat16) is checked where the run starts.

Errors name the option (``batch_size``); :data:`CLI_FLAGS` maps each option to its command-line
flag, and :meth:`OptionError.for_cli` rewords an error in flag terms for the CLI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from MedSegTrain.errors import MedSegError

MAX_TTA = 16
"""The most test-time variants: 8 in-plane flips/rotations x the axial flip."""
PRECISIONS = ("auto", "float32", "float16", "bfloat16")
BACKENDS = ("torch", "openvino")

CLI_FLAGS: dict[str, str] = {
    "tta": "--tta",
    "device": "--device",
    "overlap": "--overlap",
    "batch_size": "--batch-size",
    "precision": "--precision",
    "time_limit": "--time-limit",
    "max_memory_mb": "--max-memory",
    "backend": "--backend",
}
"""``medsegtrain predict``'s flag for each option."""


class OptionError(MedSegError):
    """A bad option value; the message names the option, :attr:`option` holds its name."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"{option} {problem}")
        self.option, self.problem = option, problem

    def for_cli(self, flags: dict[str, str] = CLI_FLAGS) -> MedSegError:
        """The same error in command-line words: ``--batch-size must be ...``."""
        return MedSegError(f"{flags.get(self.option, self.option)} {self.problem}")


@dataclass(frozen=True)
class PredictOptions:
    """How a prediction runs (not what it writes): see :func:`MedSegTrain.inference.predict_volume`."""

    tta: int = 0
    device: str = "auto"
    overlap: float | None = None
    batch_size: int = 8
    precision: str = "auto"
    time_limit: float | None = None
    max_memory_mb: float | None = None
    backend: str = "torch"

    def validate(self) -> PredictOptions:
        """Raise :class:`OptionError` for the first bad value; returns ``self`` for chaining."""
        _whole(self.tta, "tta", 0, MAX_TTA)
        _whole(self.batch_size, "batch_size", 1, None)
        if not isinstance(self.device, str) or not self.device:
            raise OptionError("device", f"must be auto, cpu or cuda[:N], got {self.device!r}")
        _choice(self.precision, "precision", PRECISIONS)
        _choice(self.backend, "backend", BACKENDS)
        if self.overlap is not None and not (_number(self.overlap) and 0 <= self.overlap < 1):
            raise OptionError("overlap", f"must be in [0, 1), got {self.overlap!r}")
        for name in ("time_limit", "max_memory_mb"):
            value = getattr(self, name)
            if value is not None and not (_number(value) and 0 < value < math.inf):
                raise OptionError(name, f"must be a positive number, got {value}")
        return self


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def _whole(value: Any, name: str, low: int, high: int | None) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= low
    if not ok or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f">= {low}"
        raise OptionError(name, f"must be a whole number {span}, got {value!r}")


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise OptionError(name, f"must be one of {', '.join(choices)}, got {value!r}")
