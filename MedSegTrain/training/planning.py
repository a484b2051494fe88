"""The "auto" recipe: a plan read from the data, the way nnU-Net plans, but in a page.

From the image headers of the training cases (no voxels are read):

* target spacing = the median spacing (no resampling at all when every case already has it);
* 2D (slices) when the volumes are thin (median < 16 slices) or strongly anisotropic (slice
  thickness > 3x the in-plane spacing), 3D patches otherwise;
* patch = the median resampled shape rounded up to a multiple of the network's total stride,
  shrunk along the longest physical axis until it fits a voxel budget (smaller on CPU);
* batch size from a voxels-per-batch budget (at least 2, as nnU-Net);
* the nnU-Net-style ``unet`` with kernels and strides from ``plan_unet``; normalisation by modality
  (CT: the C1 percentile window then z-score; MRI and others: z-score per volume).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from MedSegTrain.errors import MedSegError

BUDGETS = {  # device -> (3D patch voxels, 3D batch voxels, 2D patch pixels, 2D batch pixels, base filters)
    "cpu": (64**3, 400_000, 256**2, 600_000, 16),
    "cuda": (128**3, 2 * 128**3, 512**2, 12 * 256**2, 32),
}
STRIDE_MULTIPLE = 8


def _round_up(n: float, m: int) -> int:
    return int(max(m, -(-int(np.ceil(n)) // m) * m))


def fit_patch(
    shape_zyx: Sequence[float], spacing_zyx: Sequence[float], max_voxels: int, multiple: int = STRIDE_MULTIPLE
) -> list[int]:
    """The median shape rounded up to ``multiple``, shrunk along the physically longest axis to fit."""
    patch = [_round_up(s, multiple) for s in shape_zyx]
    while int(np.prod(patch)) > max_voxels:
        extent = [p * s if p > multiple else -1 for p, s in zip(patch, spacing_zyx, strict=True)]
        axis = int(np.argmax(extent))
        if extent[axis] < 0:
            break
        patch[axis] -= multiple
    return patch


def plan_from_headers(
    sizes_xyz: Sequence[Sequence[int]],
    spacings_xyz: Sequence[Sequence[float]],
    modality: str,
    n_channels: int,
    n_classes: int,
    device_type: str = "cpu",
) -> dict[str, Any]:
    """A partial config (``preprocessing``, ``patch``, ``network``, ``training`` ...) for these images."""
    if not sizes_xyz:
        raise MedSegError("planning: the dataset has no training cases")
    sizes, spacings = np.asarray(sizes_xyz, float), np.asarray(spacings_xyz, float)
    if sizes.shape[1] != 3:
        raise MedSegError("planning: only 3D images are supported for training")
    target = np.median(spacings, axis=0)
    uniform = bool(np.allclose(spacings, target, rtol=1e-3))
    shape_zyx = np.median(sizes * spacings / target, axis=0)[::-1]
    spacing_zyx = target[::-1]
    patch3, batch3, patch2, batch2, base = BUDGETS["cuda" if device_type == "cuda" else "cpu"]
    in_plane = min(spacing_zyx[1:])
    two_d = shape_zyx[0] < 16 or spacing_zyx[0] > 3.0 * in_plane
    if two_d:
        size = fit_patch(shape_zyx[1:], spacing_zyx[1:], patch2, 16)
        batch = int(np.clip(batch2 // int(np.prod(size)), 2, 64))
    else:
        size = fit_patch(shape_zyx, spacing_zyx, patch3)
        batch = int(np.clip(batch3 // int(np.prod(size)), 2, 16))
    from MedSegTrain.networks import plan_unet

    layout = plan_unet(size, list(spacing_zyx[1:] if two_d else spacing_zyx))
    is_ct = modality.upper() == "CT"
    return {
        "preprocessing": {
            "window": "ct-percentile" if is_ct else "none",
            "normalization": "zscore",
            "target_spacing": None if uniform else [float(s) for s in target],
        },
        "patch": {"mode": "2d" if two_d else "3d", "size": [int(s) for s in size], "batch_size": batch},
        "network": {
            "name": "unet",
            "args": {**layout, "base_filters": base, "max_filters": 256 if device_type != "cuda" else 320},
        },
        "training": {
            "epochs": 1000 if device_type == "cuda" else 200,
            "iterations_per_epoch": 250 if device_type == "cuda" else 50,
            "val_every": 1 if device_type == "cuda" else 2,
        },
        # on a CPU, time goes to fold 0 and validation uses a sample of its cases; --fold all
        # (or split.folds) trains every fold, e.g. one job per fold on a cluster
        "split": {"folds": "all" if device_type == "cuda" else [0]},
        "validation": {"max_cases": None if device_type == "cuda" else 24},
        "description": (
            f"auto plan: median shape (z, y, x) {np.round(shape_zyx, 1).tolist()} at spacing "
            f"{np.round(spacing_zyx, 3).tolist()} mm, {n_channels} channel(s), {n_classes} classes, "
            f"{'2D slices' if two_d else '3D patches'} for {device_type}"
        ),
    }


def plan_dataset(dataset: Any, device_type: str = "cpu") -> dict[str, Any]:
    """:func:`plan_from_headers` for a loaded ``MedSegTrain.data.Dataset``."""
    from MedSegTrain.io import read_header

    sizes, spacings = [], []
    for case in dataset.training:
        header = read_header(case.images[0])
        sizes.append(header.geometry.size)
        spacings.append(header.geometry.spacing)
    return plan_from_headers(
        sizes, spacings, dataset.modality, dataset.n_channels, len(dataset.labels), device_type
    )
