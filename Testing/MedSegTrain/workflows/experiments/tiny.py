"""A tiny phantom dataset and spec shared by the experiment tests (loaded by path: tests are no package)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TINY_OVERRIDES = {
    "training.iterations_per_epoch": 2, "patch.batch_size": 2, "network.args.base_filters": 4,
    "validation.max_cases": 1, "split.n_folds": 2, "preprocessing.target_spacing": None,
    "patch.size": [16, 16, 16], "split.test_fraction": 0.0,
}


def phantoms(folder: Path) -> Path:
    """Four kidney-CT phantoms (two labels)."""
    from MedSegTrain.data.phantoms import generate_phantom_dataset

    return generate_phantom_dataset("kidney-ct", 4, folder, seed=0)


def write_spec(path: Path, **fields: Any) -> Path:
    """A 2 lr arms x 2 folds x 2 seeds spec of 1-epoch trainings; ``fields`` replace its fields."""
    spec = {"name": "tiny", "recipe": "auto", "overrides": dict(TINY_OVERRIDES),
            "factors": [{"name": "lr", "key": "optimizer.lr", "values": [0.001, 0.01]}],
            "folds": 2, "seeds": [0, 1], "budget": {"epochs": 1}, "metrics": ["dice", "hd95"], **fields}
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path
