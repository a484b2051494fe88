"""Time and memory budgets for ``predict``: how many TTA variants and members fit a
``--time-limit``, and which accumulator precision fits ``--max-memory``.

The time model is linear: one timed forward of one window through one member (``time_window``)
times windows x members x variants. The choice keeps every member as long as one variant each
fits, dropping TTA variants first (the later ones in :func:`~MedSegTrain.inference.tta.tta_variants`'s
order), then members. The memory model counts the whole-volume buffers of
:func:`~MedSegTrain.inference.runner.run_ensemble` (accumulator, weights, optional second moment,
padded input); above the limit the accumulators switch to float16, and past even that the run is
refused before any work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from MedSegTrain.errors import MedSegError

Clock = Callable[[], float]


@dataclass(frozen=True)
class Budget:
    """What a budgeted run uses and why; recorded in the output's metadata."""

    members: int
    variants: int
    accumulate: str
    estimated_seconds: float | None
    seconds_per_window: float | None
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def check_limits(time_limit: float | None, max_memory_mb: float | None) -> None:
    """Refuse non-positive or non-finite limits, naming the option."""
    for option, value in (("--time-limit", time_limit), ("--max-memory", max_memory_mb)):
        if value is not None and not 0 < value < float("inf"):
            raise MedSegError(f"{option} must be a positive number, got {value}")


def time_window(member: nn.Module, window: torch.Tensor, clock: Clock = time.perf_counter) -> float:
    """Seconds for one forward of ``member`` on one ``(1, C, z, y, x)`` window."""
    with torch.inference_mode():
        start = clock()
        member(window)
        return max(clock() - start, 0.0)


def choose(n_windows: int, n_members: int, n_variants: int, seconds_per_window: float,
           time_limit: float | None) -> tuple[int, int, str]:
    """``(members, variants, reason)`` whose estimated time fits ``time_limit`` (all when None)."""
    if time_limit is None:
        return n_members, n_variants, "no time limit"
    cost = n_windows * seconds_per_window  # one member, one variant
    for members in range(n_members, 0, -1):
        for variants in range(n_variants, 0, -1):
            if members < n_members and variants > 1:
                continue  # members are dropped only once TTA is down to the identity
            if members * variants * cost <= time_limit:
                return members, variants, _reason(members, variants, n_members, n_variants, time_limit)
    return 1, 1, (f"even 1 member without TTA is estimated at {cost:.1f} s, over the {time_limit:g} s "
                  "limit; running that anyway")


def _reason(members: int, variants: int, n_members: int, n_variants: int, limit: float) -> str:
    if (members, variants) == (n_members, n_variants):
        return f"everything asked for fits {limit:g} s"
    return f"{members}/{n_members} members x {variants}/{n_variants} TTA variants fit {limit:g} s"


def buffer_bytes(n_channels: int, n_input_channels: int, padded_voxels: int, second_moment: bool,
                 accumulate: str) -> int:
    """Bytes of run_ensemble's whole-volume buffers (accumulators, weights, padded float32 input)."""
    per = 2 if accumulate == "float16" else 4
    accumulators = n_channels * (2 if second_moment else 1) * per
    return padded_voxels * (accumulators + per + 4 * n_input_channels)


def choose_accumulator(n_channels: int, n_input_channels: int, padded_voxels: int, second_moment: bool,
                       max_memory_mb: float | None) -> str:
    """``float32`` when the buffers fit ``max_memory_mb`` (or no limit), else ``float16``; refuse
    when even float16 would not fit."""
    if max_memory_mb is None:
        return "float32"
    limit = max_memory_mb * 2**20
    for accumulate in ("float32", "float16"):
        if buffer_bytes(n_channels, n_input_channels, padded_voxels, second_moment, accumulate) <= limit:
            return accumulate
    need = buffer_bytes(n_channels, n_input_channels, padded_voxels, second_moment, "float16") / 2**20
    raise MedSegError(f"--max-memory {max_memory_mb:g}: this volume needs at least {need:.0f} MB for "
                      "its float16 accumulators; raise the limit")
