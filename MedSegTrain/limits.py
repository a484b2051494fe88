"""Size limits checked before allocation, so a tiny hostile file cannot ask for petabytes.

A 91-byte NIfTI can declare 1000³ voxels, a bundle can ask for a 0.001 mm grid, a 4 MB zip can
unpack to gigabytes of JSON: each is refused with a message naming the file, the size and the limit
before any memory is reserved. The defaults fit every real scan we know of (a whole-body CT at
0.5 mm is about 0.5 G voxels); raise one with ``medsegtrain --limit NAME=VALUE VERB ...`` or the
environment variable ``MEDSEG_LIMIT_<NAME>`` (e.g. ``MEDSEG_LIMIT_VOXELS=4e9``). See
``docs/reliability.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from MedSegTrain.errors import MedSegError


@dataclass(frozen=True)
class Limit:
    """One limit: its default, the unit it counts and what it bounds."""

    default: int
    unit: str
    bounds: str


LIMITS: dict[str, Limit] = {
    "voxels": Limit(2**30, "voxels", "one image or one resampled grid (voxels x channels)"),
    "labels": Limit(1_000, "labels", "distinct values in one label map"),
    "json_bytes": Limit(64 * 2**20, "bytes", "one JSON/YAML file (model.json, dataset.json, recipes)"),
    "zip_bytes": Limit(16 * 2**30, "bytes", "everything a bundle zip unpacks to"),
    "zip_members": Limit(10_000, "members", "files in one bundle zip"),
}

_overrides: dict[str, int] = {}


def value(name: str) -> int:
    """The limit ``name`` now: a ``--limit`` given on the command line, else ``MEDSEG_LIMIT_<NAME>``,
    else the default."""
    if name in _overrides:
        return _overrides[name]
    text = os.environ.get(f"MEDSEG_LIMIT_{name.upper()}")
    if text:
        return _parse(name, text, f"MEDSEG_LIMIT_{name.upper()}")
    return LIMITS[name].default


def set_limit(assignment: str) -> None:
    """Apply ``NAME=VALUE`` (``--limit``) for the rest of the process."""
    name, sep, text = assignment.partition("=")
    name = name.strip().lower()
    if not sep or name not in LIMITS:
        raise MedSegError(f"--limit {assignment!r}: expected NAME=VALUE with NAME one of "
                          + ", ".join(LIMITS))
    _overrides[name] = _parse(name, text, f"--limit {name}")


def reset() -> None:
    """Forget every ``--limit`` (tests)."""
    _overrides.clear()


def check(name: str, amount: int | float, where: str) -> None:
    """Raise when ``amount`` exceeds the limit ``name``; ``where`` (a file, an option) starts the message."""
    limit = value(name)
    if amount > limit:
        spec = LIMITS[name]
        raise MedSegError(f"{where}: {_count(amount)} {spec.unit} exceed the limit of {_count(limit)} "
                          f"for {spec.bounds}; if this is intended, raise it with "
                          f"--limit {name}=N (or MEDSEG_LIMIT_{name.upper()}=N)")


def _parse(name: str, text: str, where: str) -> int:
    try:
        number = float(text)
    except ValueError:
        raise MedSegError(f"{where}: {text!r} is not a number") from None
    if not (number >= 1 and number < float("inf")) or number != int(number):
        raise MedSegError(f"{where}: must be a whole number of {LIMITS[name].unit} >= 1, got {text!r}")
    return int(number)


def _count(amount: int | float) -> str:
    return f"{amount:,.0f}" if amount < 1e15 else f"{amount:.3g}"
