"""Side by side with nnU-Net v2 (issue 16): its 3d_fullres ``PlainConvUNet`` (features 32…320,
6 stages, instance norm, leaky ReLU; fixed seeded random weights) run by ``nnUNetPredictor``'s
sliding window (Gaussian weighting, step 0.5, mirroring over the 3 axes = 8 variants) and by
our :func:`~MedSegTrain.inference.runner.run_ensemble` with the same windows, weights and variants.

    python -m pytest Testing/benchmarks/bench_nnunet.py -m benchmark -s

The input is the real CT ``../shared/data/totalseg-example-ct/example_ct.nii.gz`` (3 mm)
resampled to 1.5 mm, clipped to [-1000, 1000] HU, z-scored and centre-cropped to ``SHAPE``. Each
contender runs in its own subprocess (clean peak RSS), alternately, ``MEDSEG_NNUNET_REPEATS``
times (default 1) with ``MEDSEG_NNUNET_THREADS`` torch threads (default 2). Sizes: one forward
on a 128³ patch took 36 s on the 2-core development machine (load 5.6), so the default is a
64×96×96 volume in 64³ patches (2×2 windows in-plane × 8 variants = 32 forwards, ~2–3 minutes
per contender); ``MEDSEG_NNUNET_FULL=1`` runs the issue's 200×512×512 in 128³ patches
(hours on 2 cores).
Our window grid is nnU-Net's (``_nnunet_steps`` follows its documented rule), our blending is
a Gaussian of sigma patch/8 like its, and ours averages logits like it (``average="logits"``),
so the two label maps must agree to Dice ≥ 0.999. Members are held as each tool holds them:
nnU-Net's predictor gets every member's weights before it starts (its
``initialize_from_trained_model_folder`` loads every fold's checkpoint), ours builds each member
when its pass begins and drops it after (as ``predict`` does), inside its timed span.
Figures go to docs/inference.md and docs/performance.md.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from MedSegTrain.inference.sliding_window import WindowPlan

pytestmark = pytest.mark.benchmark

CT = Path(__file__).resolve().parents[3] / "shared" / "data" / "totalseg-example-ct" / "example_ct.nii.gz"
FULL = os.environ.get("MEDSEG_NNUNET_FULL") == "1"
SHAPE = (200, 512, 512) if FULL else (64, 96, 96)
PATCH = (128, 128, 128) if FULL else (64, 64, 64)
CLASSES = 4
THREADS = int(os.environ.get("MEDSEG_NNUNET_THREADS", "2"))
REPEATS = int(os.environ.get("MEDSEG_NNUNET_REPEATS", "1"))
MEMBERS = int(os.environ.get("MEDSEG_NNUNET_MEMBERS", "1"))
MIRROR_AXES = (0, 1, 2)


def network(seed: int):
    """nnU-Net's default 3d_fullres PlainConvUNet for ``PATCH``, seeded random weights.

    Its planner pools down to a 4-voxel bottleneck (at most 5 times): 6 stages for 128³, 5 for 64³.
    """
    import torch
    from dynamic_network_architectures.architectures.unet import PlainConvUNet

    stages = min(6, 1 + int(math.log2(min(PATCH) // 4)))
    torch.manual_seed(seed)
    net = PlainConvUNet(
        input_channels=1, n_stages=stages, features_per_stage=(32, 64, 128, 256, 320, 320)[:stages],
        conv_op=torch.nn.Conv3d, kernel_sizes=[[3, 3, 3]] * stages,
        strides=[[1, 1, 1]] + [[2, 2, 2]] * (stages - 1), n_conv_per_stage=(2,) * stages,
        num_classes=CLASSES, n_conv_per_stage_decoder=(2,) * (stages - 1),
        conv_bias=True, norm_op=torch.nn.InstanceNorm3d, norm_op_kwargs={"eps": 1e-5, "affine": True},
        nonlin=torch.nn.LeakyReLU, nonlin_kwargs={"inplace": True}, deep_supervision=False)
    for module in net.modules():  # instance-norm affine parameters start at 1/0: randomise them too
        if isinstance(module, torch.nn.InstanceNorm3d):
            torch.nn.init.normal_(module.weight, 1.0, 0.1)
            torch.nn.init.normal_(module.bias, 0.0, 0.1)
    return net.eval()


def volume(shape: tuple[int, int, int] = SHAPE) -> np.ndarray:
    """The real CT at 1.5 mm, normalised, centre-cropped (zero-padded where smaller) to ``shape``."""
    import SimpleITK as sitk
    from scipy.ndimage import zoom

    array = sitk.GetArrayFromImage(sitk.ReadImage(str(CT))).astype(np.float32)  # (z, y, x), 3 mm
    array = zoom(np.clip(array, -1000, 1000), 2.0, order=1)
    array = (array - array.mean()) / array.std()
    out = np.zeros(shape, dtype=np.float32)
    src, dst = [], []
    for have, want in zip(array.shape, shape, strict=True):
        start = max((have - want) // 2, 0)
        offset = max((want - have) // 2, 0)
        n = min(have, want)
        src.append(slice(start, start + n))
        dst.append(slice(offset, offset + n))
    out[tuple(dst)] = array[tuple(src)]
    return out


def _nnunet_steps(size: int, patch: int, step: float = 0.5) -> list[int]:
    """Window starts along one axis by nnU-Net's rule: ceil((size - patch) / (patch·step)) + 1
    windows, evenly spaced from 0 to size - patch (the last flush with the end)."""
    n = math.ceil((size - patch) / (patch * step)) + 1
    if n == 1:
        return [0]
    spacing = (size - patch) / (n - 1)
    return [round(spacing * i) for i in range(n)]


def _run_nnunet(image: np.ndarray, members: list, float32_accumulators: bool = False):
    """nnU-Net's predictor as shipped, or (``float32_accumulators``) with its float16 logit and
    weight accumulators and float16 Gaussian made float32, to tell its rounding from ours."""
    import torch
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    if float32_accumulators:
        _nnunet_in_float32()

    predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=True,
                                perform_everything_on_device=False, device=torch.device("cpu"),
                                verbose=False, allow_tqdm=False)
    predictor.network = members[0]
    predictor.list_of_parameters = [m.state_dict() for m in members]
    predictor.allowed_mirroring_axes = MIRROR_AXES
    predictor.configuration_manager = _Config()
    predictor.label_manager = _Labels()
    logits = predictor.predict_logits_from_preprocessed_data(torch.from_numpy(image)[None])
    return torch.softmax(logits.float(), 0).numpy()


def _nnunet_in_float32() -> None:
    """Make nnU-Net's accumulators float32: its sliding window allocates them with ``torch.zeros(...,
    dtype=torch.half)`` and weights them with ``compute_gaussian(dtype=torch.float16)``."""
    import nnunetv2.inference.predict_from_raw_data as predictor_module
    import torch
    from nnunetv2.inference.sliding_window_prediction import compute_gaussian

    zeros = torch.zeros

    def zeros_float32(*args, dtype=None, **kwargs):
        return zeros(*args, dtype=torch.float32 if dtype == torch.half else dtype, **kwargs)

    torch.zeros = zeros_float32
    predictor_module.compute_gaussian = lambda *a, **k: compute_gaussian(*a, **{**k, "dtype": torch.float32})


def _nnunet_gaussian():
    """nnU-Net's own blending weights (sigma patch/8, scaled to 10, no zeros), in float32."""
    import torch
    from nnunetv2.inference.sliding_window_prediction import compute_gaussian

    return compute_gaussian(PATCH, 1.0 / 8, 10, dtype=torch.float32, device=torch.device("cpu"))


class _Config:
    """The two fields of nnU-Net's ConfigurationManager its sliding window reads."""

    def __init__(self) -> None:
        self.patch_size = list(PATCH)


class _Labels:
    num_segmentation_heads = CLASSES


def _run_ours(image: np.ndarray, seeds: list[int], options: dict):
    import functools

    import torch

    from MedSegTrain.inference.backends import wrap_members
    from MedSegTrain.inference.members import LazyMember
    from MedSegTrain.inference.runner import run_ensemble
    from MedSegTrain.inference.tta import TTAVariant

    starts = [_nnunet_steps(s, p) for s, p in zip(image.shape, PATCH, strict=True)]
    windows = tuple((slice(z, z + PATCH[0]), slice(y, y + PATCH[1]), slice(x, x + PATCH[2]))
                    for z in starts[0] for y in starts[1] for x in starts[2])
    plan = _NnunetBlend(image.shape, ((0, 0),) * 3, PATCH, windows, gaussian=True)
    names = ("z", "y", "x")
    variants = [TTAVariant(tuple(n for n, bit in zip(names, (i >> 2 & 1, i >> 1 & 1, i & 1), strict=True)
                                 if bit)) for i in range(8)]
    backend = options.get("backend", "torch")
    precision = options.get("precision", "float32")
    def build(seed: int):
        return wrap_members([network(seed)], backend, precision)[0]

    members = [LazyMember(functools.partial(build, seed)) for seed in seeds]
    result = run_ensemble(torch.from_numpy(image)[None], members, plan, variants, "softmax", average="logits",
                          batch_size=int(options.get("batch_size", 1)),
                          precision=precision if backend == "torch" else "float32",
                          channels_last=bool(options.get("channels_last", False)))
    return result.mean.numpy()


class _NnunetBlend(WindowPlan):
    """Our window plan with nnU-Net's Gaussian, so both blend with the same weights."""

    def importance(self, device="cpu"):
        return _nnunet_gaussian().to(device)


def child(contender: str, options: dict, out: str) -> None:
    """One timed run in this process; prints a JSON line and saves the probabilities to ``out``."""
    import torch

    torch.set_num_threads(THREADS)
    image = volume(tuple(options.get("shape", SHAPE)))
    seeds = list(range(MEMBERS))
    members = [] if contender == "ours" else [network(seed) for seed in seeds]
    setup_mb = _rss_now_mb()
    start = time.perf_counter()
    with torch.inference_mode():
        probs = (_run_ours(image, seeds, options) if contender == "ours"
                 else _run_nnunet(image, members, float32_accumulators=contender == "nnunet_fp32"))
    seconds = time.perf_counter() - start
    np.save(out, probs.astype(np.float32))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"contender": contender, "options": options, "seconds": seconds, "peak_rss_mb": rss_mb,
                      "setup_rss_mb": setup_mb, "load": os.getloadavg()[0]}), flush=True)


def _rss_now_mb() -> float:
    """Resident memory now (libraries, image, members loaded: what the run starts from)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def time_one_forward() -> float:
    """Seconds for one forward of the network on one patch (sizes the volume)."""
    import torch

    torch.set_num_threads(THREADS)
    net = network(0)
    x = torch.randn((1, 1, *PATCH))
    with torch.inference_mode():
        net(x)
        start = time.perf_counter()
        net(x)
    return time.perf_counter() - start


def _spawn(contender: str, options: dict, out: str) -> dict:
    here = str(Path(__file__).parent)
    code = (f"import json, sys; sys.path.insert(0, {here!r}); import bench_nnunet as b; "
            f"b.child({contender!r}, json.loads(sys.argv[1]), {out!r})")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(options)], capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def _dice_all(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Dice over the foreground labels present in either map (1.0 where both are empty)."""
    scores = []
    for label in range(1, CLASSES):
        x, y = a == label, b == label
        total = x.sum() + y.sum()
        scores.append(1.0 if total == 0 else 2.0 * np.logical_and(x, y).sum() / total)
    return float(np.mean(scores))


OURS_OPTIONS = json.loads(os.environ.get(
    "MEDSEG_NNUNET_OURS", '[{}, {"backend": "openvino"}, {"backend": "openvino", "precision": "bfloat16"}]'))
"""Our settings to try: a JSON list of options (backend, batch_size, precision, channels_last)."""


@pytest.mark.timeout(7200)
def test_against_nnunet_predictor():
    """Wall time, peak RSS and agreement of each of our settings with nnU-Net's predictor as shipped
    (float16 accumulators) and with the same predictor in float32 (``nnunet_fp32``)."""
    pytest.importorskip("nnunetv2", reason="pip install -e '.[bench]' brings nnU-Net v2")
    if not CT.exists():
        pytest.skip(f"the real CT is missing: {CT}")
    print(f"\n[nnunet] volume {SHAPE}, patch {PATCH}, {MEMBERS} member(s), 8 mirror variants, "
          f"{THREADS} threads", flush=True)
    rows, references = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(REPEATS):
            stock = _spawn("nnunet", {"shape": list(SHAPE)}, f"{tmp}/nnunet.npy")
            exact = _spawn("nnunet_fp32", {"shape": list(SHAPE)}, f"{tmp}/nnunet_fp32.npy")
            shipped, float32 = np.load(f"{tmp}/nnunet.npy"), np.load(f"{tmp}/nnunet_fp32.npy")
            _agreement(exact, float32, shipped)
            references += [stock, exact]
            _show(repeat, stock, "")
            _show(repeat, exact, f"  vs shipped: max|dp| {exact['max_dp']:.2e}  Dice {exact['dice']:.5f}")
            for options in OURS_OPTIONS:
                row = _spawn("ours", {"shape": list(SHAPE), **options}, f"{tmp}/ours.npy")
                _agreement(row, np.load(f"{tmp}/ours.npy"), shipped, float32)
                _show(repeat, row, f"  vs shipped: max|dp| {row['max_dp']:.2e} Dice {row['dice']:.5f}; "
                                   f"vs fp32: max|dp| {row['max_dp_fp32']:.2e} Dice {row['dice_fp32']:.5f}; "
                                   f"nnU-Net/ours {stock['seconds'] / row['seconds']:.2f}x  "
                                   f"RSS ours/nnU-Net {row['peak_rss_mb'] / stock['peak_rss_mb']:.2f}")
                rows.append(row)
    json_out = os.environ.get("MEDSEG_NNUNET_JSON")
    if json_out:
        Path(json_out).write_text(json.dumps({"nnunet": references, "ours": rows}, indent=1))
    assert all(r["dice_fp32"] >= 0.999 for r in rows if r["options"].get("precision", "float32") == "float32")


def _agreement(row: dict, probs: np.ndarray, shipped: np.ndarray, float32: np.ndarray | None = None) -> None:
    """Max |dp| and label-map Dice against nnU-Net as shipped (and against its float32 run)."""
    row["max_dp"] = float(np.abs(probs - shipped).max())
    row["dice"] = _dice_all(probs.argmax(0), shipped.argmax(0))
    if float32 is not None:
        row["max_dp_fp32"] = float(np.abs(probs - float32).max())
        row["dice_fp32"] = _dice_all(probs.argmax(0), float32.argmax(0))


def _show(repeat: int, row: dict, extra: str) -> None:
    options = {k: v for k, v in row["options"].items() if k != "shape"}
    print(f"[nnunet] #{repeat} {row['contender']:11s} {json.dumps(options):40s} {row['seconds']:7.1f} s  "
          f"peak RSS {row['peak_rss_mb']:6.0f} MB (setup {row['setup_rss_mb']:5.0f})  load {row['load']:.1f}"
          f"{extra}", flush=True)
