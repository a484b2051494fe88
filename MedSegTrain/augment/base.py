"""The transform interface and the checked reading of a transform's options from a config dict.

A transform draws all its random parameters for a batch first (``sample``), then applies them
(``apply``). Keeping the two apart makes every call reproducible and recordable: the Augmenter
stores the drawn parameters and can replay them on another batch.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch

from ..errors import MedSegError

Params = dict[str, torch.Tensor]
Labels = torch.Tensor | None


class Transform(ABC):
    """One augmentation; ``p`` is the probability that it acts on a given sample."""

    name: str = ""

    def __init__(self, p: float) -> None:
        self.p = p

    @abstractmethod
    def sample(self, shape: torch.Size, generator: torch.Generator, device: torch.device) -> Params:
        """Draw this transform's parameters for a batch of ``shape`` (N, C, *spatial).

        The result always holds ``applied``: a bool tensor (N,) saying which samples it acts on.
        """

    @abstractmethod
    def apply(
        self, images: torch.Tensor, labels: torch.Tensor | None, params: Params
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Apply drawn parameters. Never modifies its inputs (it may return them if nothing changes)."""

    def options(self) -> dict[str, Any]:
        """The transform's settings, as a config entry would give them."""
        return {"name": self.name, "p": self.p}


def applied_indices(applied: torch.Tensor) -> torch.Tensor | None:
    """Indices of the samples a transform acts on; ``None`` means all of them (no indexing needed)."""
    if bool(applied.all()):
        return None
    return applied.nonzero().flatten()


def put_back(batch: torch.Tensor, part: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
    """A copy of ``batch`` with the transformed ``part`` at ``index`` (``part`` itself when None)."""
    if index is None:
        return part
    result = batch.clone()
    result[index.to(batch.device)] = part
    return result


class Options:
    """Reads one config entry, checking types and ranges, naming the entry in every error."""

    def __init__(self, entry: dict[str, Any], where: str) -> None:
        self._entry = dict(entry)
        self.where = where

    def fail(self, message: str) -> MedSegError:
        return MedSegError(f"{self.where}: {message}")

    def has(self, key: str) -> bool:
        return key in self._entry

    def probability(self, key: str = "p", default: float = 0.5) -> float:
        value = self.number(key, default)
        if not 0.0 <= value <= 1.0:
            raise self.fail(f"'{key}' must be a probability in [0, 1], got {value}")
        return value

    def number(self, key: str, default: float, minimum: float | None = None) -> float:
        value = self._entry.pop(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(f"'{key}' must be a finite number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(f"'{key}' must be >= {minimum}, got {value}")
        return float(value)

    def integer(self, key: str, default: int, minimum: int) -> int:
        value = self._entry.pop(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(f"'{key}' must be an integer >= {minimum}, got {value!r}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._entry.pop(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"'{key}' must be true or false, got {value!r}")
        return value

    def choice(self, key: str, default: str, allowed: Sequence[str]) -> str:
        value = self._entry.pop(key, default)
        if value not in allowed:
            raise self.fail(f"'{key}' must be one of {', '.join(allowed)}; got {value!r}")
        return value

    def interval(
        self, key: str, default: tuple[float, float], minimum: float | None = None
    ) -> tuple[float, float]:
        """A ``[low, high]`` pair with ``low <= high`` (a single number ``v`` means ``[v, v]``)."""
        value = self._entry.pop(key, default)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = (value, value)
        if (
            not isinstance(value, (list, tuple))
            or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            or not all(math.isfinite(v) for v in value)
        ):
            raise self.fail(f"'{key}' must be a [low, high] pair of numbers, got {value!r}")
        low, high = float(value[0]), float(value[1])
        if low > high:
            raise self.fail(f"'{key}' must have low <= high, got [{low}, {high}]")
        if minimum is not None and low < minimum:
            raise self.fail(f"'{key}' must not go below {minimum}, got [{low}, {high}]")
        return low, high

    def numbers(self, key: str, default: float | list[float], minimum: float = 0.0) -> list[float]:
        """One number or a list of numbers (e.g. one per axis), each ``>= minimum``."""
        value = self._entry.pop(key, default)
        values = [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        if (
            not isinstance(values, (list, tuple))
            or not values
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            or not all(math.isfinite(v) and v >= minimum for v in values)
        ):
            raise self.fail(f"'{key}' must be a number or a list of numbers >= {minimum}, got {value!r}")
        return [float(v) for v in values]

    def axes(self, key: str, default: list[int] | None) -> list[int] | None:
        """Spatial axes in array order (0 = z in 3D, -1 = x); ``None`` means all of them."""
        value = self._entry.pop(key, default)
        if value is None:
            return None
        values = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if (
            not isinstance(values, (list, tuple))
            or not values
            or not all(isinstance(v, int) and not isinstance(v, bool) and -3 <= v <= 2 for v in values)
            or len(set(values)) != len(values)
        ):
            raise self.fail(
                f"'{key}' must be a list of distinct spatial axes in array order (0..2 or -3..-1), "
                f"got {value!r}"
            )
        return list(values)

    def finish(self) -> None:
        """Fail on any option that was not read: a typo must not be silently ignored."""
        if self._entry:
            raise self.fail(f"unknown parameter(s) {', '.join(sorted(map(str, self._entry)))}")


def spatial_axes(axes: list[int] | None, spatial_dims: int, where: str) -> list[int]:
    """Resolve configured spatial axes against a batch with ``spatial_dims`` spatial dimensions."""
    if axes is None:
        return list(range(spatial_dims))
    resolved = []
    for axis in axes:
        if not -spatial_dims <= axis < spatial_dims:
            raise MedSegError(
                f"{where}: axis {axis} does not exist in a batch with {spatial_dims} spatial dims"
            )
        resolved.append(axis % spatial_dims)
    return resolved
