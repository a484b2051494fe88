"""The grid of an experiment: every arm x fold x seed as a trial with a stable, readable ID.

A trial's ID is its arm label made file-name safe plus its fold and seed (``alpha-0.2_f1_s0``), so
the same spec always gives the same IDs and ``--resume`` finds its folders again. Trials that
differ only in inference factors share one training (``train_id``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import product
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]+")


@dataclass(frozen=True)
class Trial:
    """One training-and-evaluation of the grid."""

    id: str
    arm: str
    factors: dict[str, Any]
    fold: int
    seed: int
    overrides: dict[str, Any] = field(default_factory=dict)   # recipe keys of the training arms
    inference: dict[str, Any] = field(default_factory=dict)   # inference.* keys, prefix removed
    train_id: str = ""

    def record(self) -> dict[str, Any]:
        """The trial as ``experiment.json`` lists it (status and timing added by the runner)."""
        return {"id": self.id, "arm": self.arm, "factors": dict(self.factors), "fold": self.fold,
                "seed": self.seed, "train_id": self.train_id}


def slug(label: str) -> str:
    """``label`` as a file-name part: ``"alpha=0.2, loss=dice"`` -> ``"alpha-0.2_loss-dice"``."""
    parts = [_UNSAFE.sub("-", part.replace("=", "-")).strip("-") for part in label.split(", ")]
    return "_".join(p or "x" for p in parts)


def expand(spec: Mapping[str, Any]) -> list[Trial]:
    """Every trial of ``spec`` in a fixed order: arms (factors in order), then folds, then seeds."""
    factors = spec["factors"]
    trials = []
    for arms in product(*(list(f["arms"].items()) for f in factors)):
        label = ", ".join(name for name, _keys in arms)
        values = {f["name"]: (f["values"][list(f["arms"]).index(name)] if "key" in f else name)
                  for f, (name, _keys) in zip(factors, arms, strict=True)}
        overrides: dict[str, Any] = {}
        inference: dict[str, Any] = {}
        for f, (_name, keys) in zip(factors, arms, strict=True):
            for key, value in keys.items():
                if f["stage"] == "inference":
                    inference[key.removeprefix("inference.")] = value
                else:
                    overrides[key] = value
        train_label = ", ".join(name for f, (name, _k) in zip(factors, arms, strict=True)
                                if f["stage"] == "train") or "base"
        for fold, seed in product(spec["folds"], spec["seeds"]):
            trials.append(Trial(f"{slug(label)}_f{fold}_s{seed}", label, values, fold, seed, overrides,
                                inference, f"{slug(train_label)}_f{fold}_s{seed}"))
    return trials
