"""Training-step benchmarks (issue 6): step time of the mixup U-Net (X5; batch 8, 320 x 320, 2D) and
of the 3D U-Net (96^3, batch 2), and the share of each step spent waiting for data.

    python -m pytest Testing/benchmarks/bench_training.py -m benchmark -s
    MEDSEG_BENCH_STEPS=8 python -m pytest ... -k 3D     # more timed steps for the slow 3D case

Three ways to feed the same network the same kind of batches, timed in one run on 2 threads:

* ``raw``: forward + backward + Adam on one fixed, pre-made batch — the floor, no data work at all;
* ``engine``: ``MedSegTrain.training``'s loop (patch sampling + augmentation in the prefetch
  thread, then the step) — what ``medsegtrain train`` does;
* ``monai``: the peer — MONAI's ``DataLoader`` (``num_workers=0``) over ``RandCropByPosNegLabeld``
  + the same augmentation in the loop, the plain way to write a MONAI training script.

Reported: seconds per step (median of the timed steps after a warm-up), the engine's data-wait
share (time the step blocked on the prefetch queue / step time; target < 5 %), and ratios to raw.
Results and the command are in docs/training.md.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.benchmark
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
THREADS = 2
STEPS = int(os.environ.get("MEDSEG_BENCH_STEPS", "4"))  # timed steps per loop; more: less noise


def _cases(n: int, shape: tuple[int, ...], seed: int) -> list:
    from MedSegTrain.training.loader import CachedCase

    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        image = rng.normal(size=(1, *shape)).astype(np.float32)
        label = np.zeros(shape, np.uint8)
        z, y, x = (s // 2 for s in shape)
        label[max(z - 4, 0) : z + 4, y - 20 : y + 20, x - 20 : x + 20] = 1
        coords = np.argwhere(label == 1).astype(np.int32)
        cases.append(CachedCase(f"c{i}", image, label, {1: coords}, (1.0, 1.0, 1.0)))
    return cases


def _config(mode: str, size: list[int], batch: int, network: dict, augmentation: str) -> dict:
    from MedSegTrain.training import config as cfgmod

    raw = {
        "patch": {"mode": mode, "size": size, "batch_size": batch},
        "network": network,
        "training": {"epochs": 2, "iterations_per_epoch": STEPS, "prefetch": 4},
        "loss": {"name": "dice_ce"},
        "augmentation": {"preset": augmentation},
        "schedule": {"name": "constant"},
    }
    return cfgmod.validate(cfgmod.merge(cfgmod.defaults(), raw, "bench"), "bench")


def _loss(model: torch.nn.Module, loss_fn: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
          config: dict) -> torch.Tensor:
    """Forward + loss under the autocast the engine uses for ``training.amp``."""
    from MedSegTrain.training.engine import autocast_dtype

    dtype = autocast_dtype(config["training"]["amp"], torch.device("cpu"))
    with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
        out = model(x).float()
    return loss_fn(out, y)


def _raw_step(config: dict, cases: list) -> float:
    from MedSegTrain.networks import get_network
    from MedSegTrain.training.loader import PatchSampler
    from MedSegTrain.training.objective import build_objective

    model = get_network(config["network"]["name"], **config["network"]["args"])
    loss_fn = build_objective(config["loss"])
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    sampler = PatchSampler(cases, config["patch"]["size"], config["patch"]["mode"])
    images, labels = sampler.batch(np.random.default_rng(0), config["patch"]["batch_size"])
    x, y = torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))
    times = []
    for _ in range(STEPS + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        _loss(model, loss_fn, x, y, config).backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def _engine_step(config: dict, cases: list, out: Path) -> tuple[float, float]:
    from MedSegTrain.augment import build_augmentation
    from MedSegTrain.training.engine import FoldJob, FoldTrainer
    from MedSegTrain.training.targets import OutputPlan

    job = FoldJob(
        config=config,
        fold=0,
        network=config["network"],
        train_cases=cases,
        val_cases=[],
        output=OutputPlan.softmax({"background": 0, "fg": 1}),
        out_dir=out,
        device=torch.device("cpu"),
        augmenter=build_augmentation(config["augmentation"]),
    )
    result = FoldTrainer(job).run()
    timed = result.history[-1]  # the second epoch; the first warms up
    return timed["seconds"] / STEPS, timed["data_wait_seconds"] / timed["seconds"]


def _monai_step(config: dict, cases: list) -> tuple[float, float]:
    from monai.data import DataLoader, Dataset
    from monai.transforms import RandCropByPosNegLabeld

    from MedSegTrain.augment import build_augmentation
    from MedSegTrain.networks import get_network
    from MedSegTrain.training.objective import build_objective

    mode, size = config["patch"]["mode"], config["patch"]["size"]
    roi = [1, *size] if mode == "2d" else size
    items = [{"image": np.asarray(c.image), "label": np.asarray(c.label)[None]} for c in cases]
    crop = RandCropByPosNegLabeld(["image", "label"], "label", roi, pos=1, neg=2, num_samples=1)
    crop.set_random_state(0)
    batches = DataLoader(
        Dataset(items * 100, transform=crop),
        batch_size=config["patch"]["batch_size"],
        num_workers=0,
        shuffle=True,
    )
    augment = build_augmentation(config["augmentation"])
    model = get_network(config["network"]["name"], **config["network"]["args"])
    loss_fn = build_objective(config["loss"])
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    gen = torch.Generator().manual_seed(0)
    steps, waits = [], []
    it = iter(batches)
    for _ in range(STEPS + 1):
        t0 = time.perf_counter()
        batch = next(it)
        x, y = batch["image"].as_tensor(), batch["label"].as_tensor().long()
        if mode == "2d":
            x, y = x[:, :, 0], y[:, :, 0]
        x, y = augment(x, y, gen)
        t1 = time.perf_counter()
        opt.zero_grad()
        _loss(model, loss_fn, x, y, config).backward()
        opt.step()
        steps.append(time.perf_counter() - t0)
        waits.append(t1 - t0)
    return statistics.median(steps[1:]), sum(waits[1:]) / sum(steps[1:])


CASES = {
    "mixup U-Net 2D, batch 8, 320x320": (
        "2d",
        [320, 320],
        8,
        {"name": "mixup_unet", "args": {"spatial_dims": 2, "in_channels": 1, "out_channels": 2}},
        "mixup_paper",
        (32, 320, 320),
    ),
    "3D U-Net (unet), batch 2, 96^3": (
        "3d",
        [96, 96, 96],
        2,
        {
            "name": "unet",
            "args": {
                "spatial_dims": 3,
                "in_channels": 1,
                "out_channels": 2,
                "kernel_size": [[3, 3, 3]] * 5,
                "strides": [[1, 1, 1]] + [[2, 2, 2]] * 4,
                "base_filters": 32,
                "max_filters": 320,
            },
        },
        "loss_paper",
        (112, 128, 128),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_step_time_and_data_wait(name: str, tmp_path: Path) -> None:
    torch.set_num_threads(THREADS)
    mode, size, batch, network, augmentation, shape = CASES[name]
    config = _config(mode, size, batch, network, augmentation)
    cases = _cases(3, shape, seed=0)
    raw = _raw_step(config, cases)
    engine, engine_wait = _engine_step(config, cases, tmp_path / "engine")
    monai, monai_wait = _monai_step(config, cases)
    print(f"\n{name} ({THREADS} threads, median of {STEPS} steps after warm-up)")
    print(f"  raw step (no data work)      {raw:7.3f} s")
    print(
        f"  MedSegTrain engine           {engine:7.3f} s  ({engine / raw:5.2f} x raw)  data wait "
        f"{100 * engine_wait:5.2f} %"
    )
    print(
        f"  MONAI DataLoader (workers 0) {monai:7.3f} s  ({monai / raw:5.2f} x raw)  data wait "
        f"{100 * monai_wait:5.2f} %"
    )
    print(f"  engine vs MONAI loop: {monai / engine:5.2f} x faster per step")
    assert engine_wait < 0.05, f"the step waited {100 * engine_wait:.1f} % of its time for data"
