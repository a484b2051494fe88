"""A tiny MSD-layout dataset written with SimpleITK (independent of the phantom generator)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk


def write_blob_dataset(
    root: Path,
    n_cases: int = 6,
    shape: tuple[int, int, int] = (16, 24, 24),
    seed: int = 0,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    slices: list[int] | None = None,
) -> Path:
    """Cases with a bright ball (label 1) and a dark box (label 2) on noise; MSD dataset.json."""
    rng = np.random.default_rng(seed)
    (root / "imagesTr").mkdir(parents=True, exist_ok=True)
    (root / "labelsTr").mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(n_cases):
        z = slices[i] if slices else shape[0]
        zz, yy, xx = np.meshgrid(*(np.arange(n) for n in (z, *shape[1:])), indexing="ij")
        c = [rng.uniform(0.35, 0.65) * n for n in (z, *shape[1:])]
        r = rng.uniform(0.18, 0.25) * min(shape[1:])
        label = np.zeros((z, *shape[1:]), np.uint8)
        label[(zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r * r] = 1
        y0, x0 = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        label[:, y0 : y0 + 4, x0 : x0 + 5][label[:, y0 : y0 + 4, x0 : x0 + 5] == 0] = 2
        image = rng.normal(100.0, 10.0, label.shape) + 80.0 * (label == 1) - 60.0 * (label == 2)
        name = f"blob_{i:03d}.nii.gz"
        for folder, array in (("imagesTr", image.astype(np.float32)), ("labelsTr", label)):
            img = sitk.GetImageFromArray(array)
            img.SetSpacing(spacing)
            sitk.WriteImage(img, str(root / folder / name))
        entries.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
    meta = {
        "name": "Blobs",
        "modality": {"0": "MRI"},
        "labels": {"0": "background", "1": "ball", "2": "box"},
        "numTraining": n_cases,
        "numTest": 0,
        "training": entries,
        "test": [],
    }
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


@pytest.fixture(scope="session")
def blob_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_blob_dataset(tmp_path_factory.mktemp("blobs"))
