"""Small real bundles for the GUI tests, written with MedSegTrain.bundle.save_bundle."""

from __future__ import annotations

from pathlib import Path

PROSTATE_LABELS = {"background": 0, "central_gland": 1, "peripheral_zone": 2}
NETWORK_ARGS = {"spatial_dims": 3, "in_channels": 1, "out_channels": 3, "kernel_size": [3, 3, 3],
                "strides": [1, 2, 2], "filters": [4, 8, 8]}


def write_bundle(path: Path, labels: dict[str, int] | None = None, channels: tuple[str, ...] = ("T2",),
                 members: int = 2) -> Path:
    """A valid bundle of an untrained tiny ``unet`` (for panel tests that do not look at results)."""
    import torch

    from MedSegTrain.bundle import save_bundle
    from MedSegTrain.networks import get_network
    from MedSegTrain.preprocessing.pipeline import PreprocessingSpec
    from MedSegTrain.preprocessing.windowing import get_preset

    labels = labels or PROSTATE_LABELS
    args = {**NETWORK_ARGS, "in_channels": len(channels), "out_channels": len(labels)}
    torch.manual_seed(0)
    states = [get_network("unet", **args).state_dict() for _ in range(members)]
    meta = {
        "format_version": 1, "name": path.name, "network": {"name": "unet", "args": args},
        "input": {"channels": list(channels), "modality": "MR"}, "labels": labels,
        "output": {"activation": "softmax", "regions": None, "region_rebuild": None},
        "preprocessing": PreprocessingSpec(window=get_preset("mr-percentile")).to_dict(),
        "inference": {"mode": "whole", "patch_size": [16, 64, 64], "overlap": 0.5},
        "training": {"recipe": {}, "validation_metrics": {"mean_dice": 0.85}},
        "members": [{"weights": f"fold{i}.safetensors", "fold": i, "validation_metrics": {}}
                    for i in range(members)],
    }
    return Path(save_bundle(path, meta, states))
