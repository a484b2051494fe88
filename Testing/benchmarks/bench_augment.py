"""Augmentation benchmarks (issue 5): mixup's share of a training step (X2) and the batched 3D
pipeline against TorchIO and MONAI doing the same work, all timed in one run on 2 threads.

    python -m pytest Testing/benchmarks/bench_augment.py -m benchmark -s

Timings are interleaved (one round of every contender, repeated), so a machine shared with
other jobs slows all contenders alike. Each contender is summarised by its fastest round (as
``timeit`` advises: other load only ever adds time, so the minimum is the best estimate of the
cost itself) and, for reference, its median; shares and ratios use the minimum. Results go to
docs/augmentation.md.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.benchmark

THREADS = 2


def _seconds(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _interleaved(contenders: dict[str, Callable[[], object]], rounds: int) -> dict[str, tuple[float, float]]:
    """(minimum, median) seconds per call of each contender, after one warm-up call each."""
    for function in contenders.values():
        function()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, function in contenders.items():
            samples[name].append(_seconds(function))
    return {name: (min(values), statistics.median(values)) for name, values in samples.items()}


def _ball_labels(shape: tuple[int, ...], n: int, seed: int) -> torch.Tensor:
    """Integer masks with one random ball (disk) per sample: realistic, not noise."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.arange(size) for size in shape], indexing="ij")
    masks = []
    for _ in range(n):
        centre = [rng.uniform(0.3, 0.7) * size for size in shape]
        radius = rng.uniform(0.15, 0.3) * min(shape)
        distance = sum((grid - c) ** 2 for grid, c in zip(grids, centre, strict=True))
        masks.append(distance <= radius**2)
    return torch.from_numpy(np.stack(masks)[:, None].astype(np.int64))


def test_mixup_share_of_a_mixup_unet_training_step():
    """X2: mixup must be a negligible share of a step of the mixup U-Net (target <= 0.5 %)."""
    from MedSegTrain.augment import cutmix, mixup
    from MedSegTrain.losses import get_loss
    from MedSegTrain.networks import get_network

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    network = get_network("mixup_unet", spatial_dims=2, in_channels=1, out_channels=2)
    network.train()
    optimizer = torch.optim.Adam(network.parameters(), lr=5e-4)
    loss_function = get_loss("topk_ce")
    images = torch.randn(8, 1, 320, 320)
    labels = _ball_labels((320, 320), 8, seed=0)
    generator = torch.Generator().manual_seed(0)
    mixed = mixup(images, labels, 0.5, generator, num_classes=2)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_function(network(mixed[0]), mixed[1]).backward()
        optimizer.step()

    def mixup_one_thread() -> None:
        # For reference only: on a contended machine every 2-thread parallel region waits for
        # a descheduled thread, which inflates small memory-bound operations like mixup most.
        torch.set_num_threads(1)
        try:
            mixup(images, labels, 0.5, generator, num_classes=2)
        finally:
            torch.set_num_threads(THREADS)

    timings = _interleaved(
        {
            "training step": step,
            "mixup": lambda: mixup(images, labels, 0.5, generator, num_classes=2),
            "mixup per sample": lambda: mixup(images, labels, 0.5, generator, per_sample=True, num_classes=2),
            "cutmix": lambda: cutmix(images, labels, 0.5, generator, num_classes=2),
            "mixup, 1 thread": mixup_one_thread,
        },
        rounds=9,
    )
    step_seconds, step_median = timings.pop("training step")
    print(
        f"\nmixup U-Net (X5) step, batch 8x1x320x320, {THREADS} threads: "
        f"{step_seconds * 1000:.0f} ms (median {step_median * 1000:.0f} ms)"
    )
    print(f"{'operation':<18}{'ms':>9}{'median ms':>11}{'share of step':>16}")
    shares = {}
    for name, (seconds, median) in timings.items():
        shares[name] = seconds / (step_seconds + seconds)
        print(f"{name:<18}{seconds * 1000:>9.2f}{median * 1000:>11.2f}{shares[name] * 100:>15.3f}%")
    assert shares["mixup"] <= 0.005


def test_3d_pipeline_throughput_against_torchio_and_monai():
    """Flip + affine rotation/scale + Gaussian noise on a 2x1x128^3 image+mask batch."""
    import SimpleITK as sitk
    import torchio as tio
    from monai.transforms import Compose, RandAffined, RandFlipd, RandGaussianNoised

    from MedSegTrain.augment import build_augmentation

    torch.set_num_threads(THREADS)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(THREADS)
    shape, batch = (128, 128, 128), 2
    images = torch.randn(batch, 1, *shape, generator=torch.Generator().manual_seed(1))
    labels = _ball_labels(shape, batch, seed=1)
    degrees, scales, std = 15.0, (0.9, 1.1), 0.1

    ours = build_augmentation(
        {
            "transforms": [
                {"name": "flip", "p": 0.5},
                {"name": "affine", "p": 1.0, "rotate": degrees, "scale": list(scales)},
                {"name": "gaussian_noise", "p": 1.0, "std": std},
            ]
        }
    )
    generator = torch.Generator().manual_seed(0)

    torchio_pipeline = tio.Compose(
        [
            tio.RandomFlip(axes=(0, 1, 2), flip_probability=0.5),
            tio.RandomAffine(scales=scales, degrees=degrees, image_interpolation="linear"),
            tio.RandomNoise(std=(std, std)),
        ]
    )
    subjects = [
        tio.Subject(image=tio.ScalarImage(tensor=images[i]), label=tio.LabelMap(tensor=labels[i]))
        for i in range(batch)
    ]

    keys = ["image", "label"]
    radians = math.radians(degrees)
    monai_pipeline = Compose(
        [
            *[RandFlipd(keys=keys, prob=0.5, spatial_axis=axis) for axis in range(3)],
            RandAffined(
                keys=keys,
                prob=1.0,
                rotate_range=(radians,) * 3,
                scale_range=(scales[1] - 1.0,) * 3,
                mode=("bilinear", "nearest"),
                padding_mode="zeros",
            ),
            RandGaussianNoised(keys=["image"], prob=1.0, std=std, sample_std=False),
        ]
    )
    monai_pipeline.set_random_state(seed=0)
    samples = [{"image": images[i], "label": labels[i]} for i in range(batch)]

    timings = _interleaved(
        {
            "MedSegTrain (batched)": lambda: ours(images, labels, generator),
            "TorchIO (per subject)": lambda: [torchio_pipeline(subject) for subject in subjects],
            "MONAI dict (per sample)": lambda: [monai_pipeline(sample) for sample in samples],
        },
        rounds=5,
    )
    mine = timings["MedSegTrain (batched)"][0]
    import monai

    print(f"\n3D pipeline flip + affine + noise, batch {batch}x1x128^3 image+mask, {THREADS} threads")
    print(f"torch {torch.__version__}, TorchIO {tio.__version__}, MONAI {monai.__version__}")
    print(f"{'implementation':<26}{'ms/batch':>10}{'median':>8}{'batches/s':>11}{'ours faster by':>16}")
    for name, (seconds, median) in timings.items():
        ratio = seconds / mine
        print(f"{name:<26}{seconds * 1000:>10.0f}{median * 1000:>8.0f}{1 / seconds:>11.2f}{ratio:>15.2f}x")
    assert timings["TorchIO (per subject)"][0] > mine
    assert timings["MONAI dict (per sample)"][0] > mine
