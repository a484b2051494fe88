"""The papers' augmentation recipes as named configs for ``build_augmentation``.

Each preset is a plain config dict (the same format a recipe file uses). Values the paper
gives are used as given; where a paper names a transform without a probability or a range,
the choice made here is stated in docs/augmentation.md.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import MedSegError

PRESETS: dict[str, dict[str, Any]] = {
    # X7 (Isaksson et al.): horizontal flips, zoom 0.5-1.5 with translation, rotation ±π/4.
    "mixup_paper": {
        "batch_probability": 1.0,
        "transforms": [
            {"name": "flip", "axes": [-1], "p": 0.5},
            {"name": "affine", "p": 1.0, "rotate": [45.0], "scale": [0.5, 1.5], "translate": 0.1},
        ],
    },
    # L5 (Yeung et al., through MIScnn/batchgenerators defaults, p = 0.15 per transform).
    "loss_paper": {
        "batch_probability": 1.0,
        "transforms": [
            {"name": "affine", "p": 0.15, "rotate": 15.0, "scale": [0.85, 1.25]},
            {"name": "elastic", "p": 0.15, "control_points": 7, "max_displacement": 7.5},
            {"name": "flip", "p": 0.5},
            {"name": "brightness", "p": 0.15, "range": [0.5, 2.0]},
            {"name": "contrast", "p": 0.15, "range": [0.3, 3.0]},
            {"name": "gamma", "p": 0.15, "range": [0.7, 1.5]},
            {"name": "gaussian_noise", "p": 0.15, "std": [0.0, 0.05]},
        ],
    },
    # B6 (Henry et al.), pipeline A.
    "brats": {
        "batch_probability": 1.0,
        "transforms": [
            {"name": "channel_rescale", "p": 0.8, "range": [0.9, 1.1]},
            {"name": "gaussian_noise", "p": 0.5, "std": 0.1},
            {"name": "channel_drop", "p": 0.16},
            {"name": "flip", "p": 0.8},
        ],
    },
    # B6 (Henry et al.), pipeline B.
    "brats_b": {
        "batch_probability": 1.0,
        "transforms": [
            {"name": "channel_rescale", "p": 0.2, "range": [0.9, 1.1]},
            {"name": "channel_shift", "p": 0.2, "range": [-0.1, 0.1]},
            {"name": "gaussian_noise", "p": 0.5, "std": 0.1},
            {"name": "flip", "p": 0.5},
        ],
    },
    # C4 (Kloenne et al.), 3D: 80 % of batches augmented, range shift on 20 % of samples.
    "ct_cues": {
        "batch_probability": 0.8,
        "transforms": [
            {"name": "affine", "p": 0.5, "rotate": [16.0]},
            {"name": "slice_skip", "p": 0.2, "max_stride": 3},
            {"name": "slice_interpolation", "p": 0.2, "max_stride": 3},
            {"name": "intensity_range_shift", "p": 0.2, "shift": [-0.1, 0.1]},
            {"name": "gaussian_noise", "p": 0.5, "std": 0.05},
        ],
    },
    # C4, 2D: 90 % of batches; the slice transforms need a slice axis, so they are left out.
    "ct_cues_2d": {
        "batch_probability": 0.9,
        "transforms": [
            {"name": "affine", "p": 0.5, "rotate": [16.0]},
            {"name": "intensity_range_shift", "p": 0.2, "shift": [-0.1, 0.1]},
            {"name": "gaussian_noise", "p": 0.5, "std": 0.05},
        ],
    },
}


def list_presets() -> list[str]:
    """Names of the built-in augmentation presets."""
    return sorted(PRESETS)


def get_preset(name: str) -> dict[str, Any]:
    """A copy of the preset's config (safe to edit)."""
    if name not in PRESETS:
        raise MedSegError(
            f"augmentation preset {name!r} is unknown; choose one of {', '.join(list_presets())}"
        )
    return copy.deepcopy(PRESETS[name])
