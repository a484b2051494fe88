"""Inference benchmark (issue 7): a 5-member ensemble of a small 3D U-Net with 16-variant TTA on
a 256x256x64 volume, ``run_ensemble`` (shared window grid, variants batched through each member,
one accumulator) against the naive loop (each member x variant through MONAI's
``sliding_window_inference`` separately, then averaged); and peak memory for two volume sizes
and two ensemble sizes, each measured in a fresh subprocess.

    python -m pytest Testing/benchmarks/bench_inference.py -m benchmark -s

Both contenders run under ``torch.inference_mode`` on 2 threads with the same network, windows
(128x128x64, overlap 0.5: a grid that every flip and in-plane rotation maps onto itself) and
Gaussian blending, so their outputs must agree within 1e-5. The naive loop is timed with MONAI's
default ``sw_batch_size=1`` and with ``sw_batch_size=8`` (the same samples per forward call as
ours). ``MEDSEG_BENCH_SCALE=0.5`` halves the in-plane size for a quick look. Figures go to
docs/inference.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import torch

pytestmark = pytest.mark.benchmark

THREADS = 2
MEMBERS = 5
VARIANTS = 16
SCALE = float(os.environ.get("MEDSEG_BENCH_SCALE", "1"))
SHAPE = (64, int(256 * SCALE), int(256 * SCALE))
PATCH = (64, int(128 * SCALE), int(128 * SCALE))
BATCH = 8


def _unet(seed: int) -> torch.nn.Module:
    from monai.networks.nets import UNet

    torch.manual_seed(seed)
    return UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(4, 8, 16), strides=(2, 2),
                num_res_units=0).eval()


def _volume(shape: tuple[int, ...]) -> torch.Tensor:
    """A smooth blob phantom plus noise, (1, z, y, x)."""
    z, y, x = torch.meshgrid(*[torch.linspace(-1, 1, s) for s in shape], indexing="ij")
    blob = torch.exp(-((x - 0.2) ** 2 + (y + 0.1) ** 2 + 2 * z**2) / 0.2)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    return (blob + 0.3 * noise)[None].float()


def _naive(image: torch.Tensor, members, variants, sw_batch_size: int) -> torch.Tensor:
    from monai.inferers import sliding_window_inference

    total = torch.zeros((2, *image.shape[1:]))
    with torch.inference_mode():
        for member in members:
            def predictor(window, net=member):
                return torch.softmax(net(window), 1)

            for variant in variants:
                out = sliding_window_inference(variant.forward(image[None]), PATCH, sw_batch_size, predictor,
                                               overlap=0.5, mode="gaussian")
                total += variant.inverse(out)[0]
    return total / (len(members) * len(variants))


def _ours(image: torch.Tensor, members, variants) -> torch.Tensor:
    from MedSegTrain.inference.runner import run_ensemble
    from MedSegTrain.inference.sliding_window import plan_windows

    plan = plan_windows(image.shape[1:], "sliding_window", PATCH, overlap=0.5)
    return run_ensemble(image, members, plan, variants, "softmax", batch_size=BATCH).mean


def _timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


@pytest.mark.timeout(3600)
def test_ensemble_tta_against_the_naive_monai_loop():
    from MedSegTrain.inference.tta import tta_variants

    torch.set_num_threads(THREADS)
    members = [_unet(seed) for seed in range(MEMBERS)]
    variants = tta_variants(VARIANTS)
    image = _volume(SHAPE)
    load_before = os.getloadavg()[0]
    ours, t_ours = _timed(lambda: _ours(image, members, variants))
    print(f"\n[inference] run_ensemble done in {t_ours:.1f} s", flush=True)
    naive1, t_naive1 = _timed(lambda: _naive(image, members, variants, 1))
    print(f"[inference] naive sw_batch_size=1 done in {t_naive1:.1f} s", flush=True)
    naive8, t_naive8 = _timed(lambda: _naive(image, members, variants, BATCH))
    diff = max(float((ours - naive1).abs().max()), float((ours - naive8).abs().max()))
    print(f"\n[inference] {MEMBERS} members x {VARIANTS} TTA variants, volume {SHAPE} (z, y, x), "
          f"patch {PATCH}, overlap 0.5, {THREADS} threads, load average {load_before:.1f} -> "
          f"{os.getloadavg()[0]:.1f}")
    print(f"[inference] run_ensemble (batch {BATCH})           {t_ours:8.1f} s")
    print(f"[inference] naive MONAI loop, sw_batch_size=1  {t_naive1:8.1f} s  ratio {t_naive1 / t_ours:.2f}x")
    print(f"[inference] naive MONAI loop, sw_batch_size={BATCH}  {t_naive8:8.1f} s  "
          f"ratio {t_naive8 / t_ours:.2f}x")
    print(f"[inference] max |ours - naive| = {diff:.2e}")
    assert diff <= 1e-5


_MEMORY_CHILD = r"""
import json, resource, sys, torch
from MedSegTrain.inference.runner import run_ensemble
from MedSegTrain.inference.sliding_window import plan_windows
from MedSegTrain.inference.tta import tta_variants
torch.set_num_threads(2)
shape, members, variants = json.loads(sys.argv[1])
image = torch.randn((1, *shape))
nets = []
for seed in range(members):
    torch.manual_seed(seed)
    nets.append(torch.nn.Conv3d(1, 2, 1).eval())
plan = plan_windows(shape, "sliding_window", (64, 128, 128), overlap=0.5)
import psutil
before = psutil.Process().memory_info().rss / 1024
run_ensemble(image, nets, plan, tta_variants(variants), "softmax", batch_size=8)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"baseline_mb": before / 1024, "peak_mb": after / 1024}))
"""


def _peak_memory(shape: tuple[int, ...], members: int, variants: int) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, json.dumps([shape, members, variants])],
                          capture_output=True, text=True, check=True, timeout=1200)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(1800)
def test_peak_memory_grows_with_the_volume_not_with_members_times_variants():
    """Peak RSS above the resident size before the run, for 1x8 and 5x16 predictions (both fill
    the same batch of 8) on two volume sizes.

    The members are 1x1x1 convolutions so that the figure isolates the inference machinery
    (inputs, accumulators, windows) from a network's activations, which are per batch anyway.
    """
    rows = {}
    for shape in ((64, 128, 128), (64, 256, 256)):
        for members, variants in ((1, BATCH), (MEMBERS, VARIANTS)):
            m = _peak_memory(shape, members, variants)
            rows[(shape, members * variants)] = m["peak_mb"] - m["baseline_mb"]
            print(f"[memory] volume {shape}: {members} x {variants} predictions -> peak "
                  f"{m['peak_mb']:.0f} MB, {rows[(shape, members * variants)]:.0f} MB above the "
                  f"{m['baseline_mb']:.0f} MB before the run", flush=True)
    small, large = (64, 128, 128), (64, 256, 256)
    voxels_mb = 64 * 256 * 256 * 4 / 2**20  # one float32 channel of the large volume
    for shape in (small, large):
        # 10x more predictions cost about the same (allocator noise), never 10x
        assert rows[(shape, 80)] <= 1.25 * rows[(shape, BATCH)] + 2 * voxels_mb
    assert rows[(large, 80)] > rows[(small, 80)]
