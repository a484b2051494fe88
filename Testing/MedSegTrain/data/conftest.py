"""Helpers for dataset tests: tiny images written with SimpleITK directly (not through our io)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import SimpleITK as sitk

ImageWriter = Callable[..., Path]


def _write(path: Path, array: np.ndarray, spacing: tuple[float, ...] = (1.0, 1.0, 2.0),
           origin: tuple[float, ...] = (0.0, 0.0, 0.0)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    sitk.WriteImage(image, str(path))
    return path


@pytest.fixture
def write_image_file() -> ImageWriter:
    """``write(path, array, spacing=(x, y, z), origin=...)`` with plain SimpleITK."""
    return _write


@pytest.fixture
def write_json() -> Callable[[Path, Any], Path]:
    """Write an object as JSON to a path."""

    def write(path: Path, obj: Any) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj), encoding="utf-8")
        return path

    return write


@pytest.fixture
def nnunet_v2(tmp_path: Path) -> Callable[..., Path]:
    """Build a clean nnU-Net v2 dataset of ``n`` cases with 2 channels; returns its folder."""

    def build(n: int = 3, labels: dict[str, Any] | None = None) -> Path:
        root = tmp_path / "Dataset001_Test"
        rng = np.random.default_rng(0)
        for i in range(n):
            for c in range(2):
                _write(root / "imagesTr" / f"case{i}_{c:04d}.nii.gz",
                       rng.normal(size=(4, 5, 6)).astype(np.float32))
            label = np.zeros((4, 5, 6), np.uint8)
            label[1:3, 1:4, 2:5] = 1
            label[2, 2, 3] = 2
            _write(root / "labelsTr" / f"case{i}.nii.gz", label)
        (root / "dataset.json").write_text(json.dumps({
            "channel_names": {"0": "T1", "1": "T2"},
            "labels": labels or {"background": 0, "organ": 1, "lesion": 2},
            "numTraining": n, "file_ending": ".nii.gz"}), encoding="utf-8")
        return root

    return build
