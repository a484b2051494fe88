"""Train the tiny prostate-phantom model used by the Slicer self-test and the GUI tests.

Deterministic (fixed seeds, one thread): trains a 3-level nnU-Net-style U-Net (``unet`` of
MedSegTrain.networks, 8 base filters) on prostate MRI phantoms for a fixed number of steps with
plain torch (cross entropy + soft Dice), writes a small bundle (< 1 MB) with
``MedSegTrain.bundle.save_bundle``, then records its Dice on held-out phantoms (seed
``VALIDATION_SEED``) as the bundle's validation metrics. About three minutes of CPU time.

    python MedSegMixup/Testing/Python/make_test_bundle.py [OUT]
    (OUT defaults to MedSegMixup/Testing/Data/prostate_tiny)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

KIND = "prostate-mri"
TRAIN_SEED = 11  # phantom seed of the training cases; the tests use other seeds
VALIDATION_SEED = 99
N_VALIDATION = 3
N_CASES = 6
STEPS = 160
NETWORK_ARGS = {
    "spatial_dims": 3, "in_channels": 1, "out_channels": 3,
    "kernel_size": [[3, 3, 3], [3, 3, 3], [3, 3, 3]],
    "strides": [[1, 1, 1], [1, 2, 2], [2, 2, 2]],
    "filters": [8, 16, 32],
}
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "Data" / "prostate_tiny"


def training_arrays(spec) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image (1, z, y, x), label (z, y, x)) pairs of the training phantoms, preprocessed."""
    from MedSegTrain.data.phantoms import case_rng, make_phantom_case

    pairs = []
    for index in range(N_CASES):
        channels, label = make_phantom_case(KIND, case_rng(TRAIN_SEED, index))
        prepared = spec.prepare_image(channels)
        pairs.append((prepared.array, spec.prepare_label(label, prepared)))
    return pairs


def pad_to_multiple(array: np.ndarray, multiple: int = 8) -> np.ndarray:
    """Zero-pad the last three axes up to a multiple of ``multiple`` (what inference mode ``whole`` does)."""
    pads = [(0, 0)] * (array.ndim - 3) + [(0, (-n) % multiple) for n in array.shape[-3:]]
    return np.pad(array, pads)


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - mean foreground soft Dice."""
    probabilities = torch.softmax(logits, dim=1)
    one_hot = torch.nn.functional.one_hot(target, logits.shape[1]).permute(0, 4, 1, 2, 3).float()
    dims = (0, 2, 3, 4)
    intersection = (probabilities * one_hot).sum(dims)
    denominator = probabilities.sum(dims) + one_hot.sum(dims)
    dice = (2 * intersection + 1.0) / (denominator + 1.0)
    return 1.0 - dice[1:].mean()


def train(out: Path) -> Path:
    """Train and write the bundle to ``out``; returns the bundle path."""
    from MedSegTrain.bundle import save_bundle
    from MedSegTrain.networks import get_network
    from MedSegTrain.preprocessing.pipeline import PreprocessingSpec
    from MedSegTrain.preprocessing.windowing import get_preset

    torch.manual_seed(0)
    torch.set_num_threads(1)
    spec = PreprocessingSpec(window=get_preset("mr-percentile"), normalization="zscore")
    pairs = [(pad_to_multiple(image), pad_to_multiple(label)) for image, label in training_arrays(spec)]
    network = get_network("unet", **NETWORK_ARGS)
    optimizer = torch.optim.Adam(network.parameters(), lr=3e-3)
    network.train()
    for step in range(STEPS):
        image, label = pairs[step % len(pairs)]
        x = torch.from_numpy(image[None]).float()
        y = torch.from_numpy(label[None].astype(np.int64))
        logits = network(x)
        loss = torch.nn.functional.cross_entropy(logits, y) + soft_dice_loss(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    network.eval()
    state = {key: value.detach().clone() for key, value in network.state_dict().items()}
    meta = {
        "format_version": 1,
        "name": "prostate_tiny",
        "network": {"name": "unet", "args": NETWORK_ARGS},
        "input": {"channels": ["T2"], "modality": "MR"},
        "labels": {"background": 0, "central_gland": 1, "peripheral_zone": 2},
        "output": {"activation": "softmax", "regions": None, "region_rebuild": None},
        "preprocessing": spec.to_dict(),
        "inference": {"mode": "whole", "patch_size": [32, 96, 96], "overlap": 0.5},
        "training": {"recipe": {"script": "MedSegMixup/Testing/Python/make_test_bundle.py", "steps": STEPS,
                                "phantom": KIND, "seed": TRAIN_SEED, "cases": N_CASES},
                     "validation_metrics": {}},
        "members": [{"weights": "fold0.safetensors", "fold": 0, "validation_metrics": {}}],
    }
    return Path(save_bundle(out, meta, [state]))


def record_validation(path: Path) -> dict[str, dict[str, float]]:
    """Predict held-out phantoms with the bundle, store the mean Dice per label in its model.json."""
    from MedSegTrain.bundle import load_bundle, save_bundle
    from MedSegTrain.data.phantoms import case_rng, make_phantom_case
    from MedSegTrain.inference import predict_volume
    from MedSegTrain.metrics.labels import compute_label_metrics

    bundle = load_bundle(path)
    labels = {name: value for name, value in bundle.labels.items() if value != 0}
    scores: dict[str, list[float]] = {name: [] for name in labels}
    for index in range(N_VALIDATION):
        channels, label = make_phantom_case(KIND, case_rng(VALIDATION_SEED, index))
        predicted = predict_volume([bundle], channels, device="cpu").label
        metrics = compute_label_metrics(predicted.array, label.array, labels, spacing=label.spacing_zyx)
        for name in labels:
            scores[name].append(metrics[name]["dice"])
    dice = {name: round(float(np.mean(values)), 4) for name, values in scores.items()}
    meta = dict(bundle.meta)
    validation = {"dice": dice, "cases": f"{N_VALIDATION} held-out {KIND} phantoms (seed {VALIDATION_SEED})"}
    meta["training"] = {**meta["training"], "validation_metrics": validation}
    meta["members"] = [{**member, "validation_metrics": {"dice": dice}} for member in meta["members"]]
    save_bundle(path, meta, [bundle.state_dict(0)])
    return validation


if __name__ == "__main__":
    bundle_path = train(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
    print(bundle_path, record_validation(bundle_path))
