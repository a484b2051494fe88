"""A tiny MSD-layout dataset written with SimpleITK (independent of the phantom generator), tiny configs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see MedSegTrain/cli/train.py

import numpy as np
import pytest
import SimpleITK as sitk
import torch


def write_blob_dataset(
    root: Path,
    n_cases: int = 6,
    shape: tuple[int, int, int] = (16, 24, 24),
    seed: int = 0,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    slices: list[int] | None = None,
    offset: float = 0.0,
) -> Path:
    """Cases with a bright ball (label 1) and a dark box (label 2) on noise; MSD dataset.json.

    ``offset`` shifts every intensity (a scanner-like difference between "sites", T5).
    """
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
        image = offset + rng.normal(100.0, 10.0, label.shape) + 80.0 * (label == 1) - 60.0 * (label == 2)
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


def train_cli_args(dataset: Path, out: Path, settings: tuple[str, ...], *extra: str) -> list[str]:
    """``medsegtrain train`` arguments for fold 0 on CPU, quiet, with ``--set`` for each of ``settings``."""
    sets = [arg for item in settings for arg in ("--set", item)]
    return ["train", "--data", str(dataset), "--out", str(out), "--fold", "0", "--device", "cpu",
            "--progress", "none", *sets, *extra]


@pytest.fixture(scope="session")
def blob_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_blob_dataset(tmp_path_factory.mktemp("blobs"))


@pytest.fixture(scope="session")
def blob_writer() -> Any:
    """:func:`write_blob_dataset`, for tests that need datasets of their own (sites, bad labels)."""
    return write_blob_dataset


LABELS = {"background": 0, "ball": 1, "box": 2}
TINY_NET = {
    "name": "unet",
    "args": {
        "spatial_dims": 3,
        "in_channels": 1,
        "out_channels": 3,
        "kernel_size": [[3, 3, 3]] * 3,
        "strides": [[1, 1, 1], [2, 2, 2], [2, 2, 2]],
        "base_filters": 8,
        "max_filters": 32,
    },
}


def tiny_config(**sections: Any) -> dict[str, Any]:
    """A validated config for seconds-long runs; ``sections`` override (nested dicts)."""
    from MedSegTrain.training import config as cfgmod

    base = {
        "patch": {"mode": "3d", "size": [16, 24, 24], "batch_size": 2, "foreground_fraction": 0.5},
        "training": {"epochs": 3, "iterations_per_epoch": 4, "prefetch": 2, "grad_clip": 12.0},
        "optimizer": {"name": "adam", "lr": 3e-3},
        "schedule": {"name": "constant"},
        "loss": {"name": "dice_ce"},
        "validation": {"max_cases": 1},
        "augmentation": None,
    }
    config = cfgmod.merge(cfgmod.defaults(), base, "test")
    return cfgmod.validate(cfgmod.merge(config, sections, "test"), "test")


def cached_blobs(dataset: Path, cache: Path) -> list:
    from MedSegTrain.data import load_dataset
    from MedSegTrain.preprocessing.pipeline import PreprocessingSpec
    from MedSegTrain.training.loader import prepare_cases

    ds = load_dataset(dataset)
    spec = PreprocessingSpec.from_dict({"normalization": "zscore"})
    cases = prepare_cases(ds.training, spec, cache, ds.label_values)
    return [cases[c.case_id] for c in ds.training]


def job(config: dict[str, Any], train: list, val: list, out: Path, **kwargs: Any) -> Any:
    from MedSegTrain.training.engine import FoldJob
    from MedSegTrain.training.targets import OutputPlan

    settings: dict[str, Any] = {"network": TINY_NET, "output": OutputPlan.softmax(LABELS), **kwargs}
    settings.update(config=config, fold=0, train_cases=train, val_cases=val, out_dir=out)
    return FoldJob(device=torch.device("cpu"), **settings)


@pytest.fixture(scope="session")
def blob_cases(blob_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> list:
    """The blob dataset's cases, preprocessed (z-score) and cached."""
    return cached_blobs(blob_dataset, tmp_path_factory.mktemp("cache"))


@pytest.fixture()
def tiny() -> Any:
    return tiny_config


@pytest.fixture()
def train_cli() -> Any:
    return train_cli_args


@pytest.fixture()
def make_job() -> Any:
    return job


@pytest.fixture()
def tiny_net() -> dict:
    return TINY_NET


class FakeClock:
    """A clock that advances ``tick`` seconds per reading: time budgets without wall-clock time.

    Installed as the ``time`` module of the training API and loop (their only clock readings), so
    a budgeted run stops after the same number of steps however busy the machine is.
    """

    def __init__(self, tick: float) -> None:
        self.tick, self.now = float(tick), 0.0

    def read(self) -> float:
        self.now += self.tick
        return self.now

    monotonic = perf_counter = read


@pytest.fixture()
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Install a :class:`FakeClock` factory: ``fake_clock(tick)`` returns the installed clock."""
    from MedSegTrain.training import api, engine

    def install(tick: float) -> FakeClock:
        clock = FakeClock(tick)
        monkeypatch.setattr(api, "time", clock)
        monkeypatch.setattr(engine, "time", clock)
        return clock

    return install
