"""Inference tests run torch on one thread: the machine's cores are shared, and oversubscribed
torch threads turn millisecond convolutions into seconds."""

from __future__ import annotations

import pytest
import torch
from torch import nn


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Pointwise(nn.Module):
    """A 1x1x1 (or 1x1) convolution: exactly equivariant to flips and rotations."""

    def __init__(self, spatial_dims: int = 3, in_channels: int = 1, out_channels: int = 2) -> None:
        super().__init__()
        conv = nn.Conv3d if spatial_dims == 3 else nn.Conv2d
        self.conv = conv(in_channels, out_channels, 1)

    def forward(self, x):
        return self.conv(x)


@pytest.fixture
def pointwise_network(monkeypatch):
    """Registers ``test_pointwise`` in the network registry for one test."""
    from MedSegTrain.networks import registry

    monkeypatch.setitem(registry._REGISTRY, "test_pointwise", Pointwise)
    return Pointwise


def bundle_meta(*, channels=("image",), labels=None, activation="softmax", regions=None, rebuild=None,
                network="test_pointwise", args=None, preprocessing=None, inference=None) -> dict:
    labels = labels or {"background": 0, "organ": 1}
    n_out = len(regions) if regions else (len(labels) - 1 if activation == "sigmoid" else len(labels))
    return {
        "name": "test",
        "network": {"name": network, "args": args or {"spatial_dims": 3, "in_channels": len(channels),
                                                     "out_channels": n_out}},
        "input": {"channels": list(channels), "modality": "MR"},
        "labels": labels,
        "output": {"activation": activation, "regions": regions, "region_rebuild": rebuild},
        "preprocessing": preprocessing or {"normalization": "none"},
        "inference": inference or {"mode": "sliding_window", "patch_size": [8, 8, 8], "overlap": 0.5},
        "training": {"recipe": {}, "validation_metrics": {}},
    }


@pytest.fixture
def make_bundle(tmp_path, pointwise_network):
    """``make_bundle(name, n_members=1, seed=0, **meta_fields) -> (path, [nn.Module members])``."""
    from MedSegTrain.bundle import save_bundle
    from MedSegTrain.networks import get_network

    def make(name: str, n_members: int = 1, seed: int = 0, **fields):
        meta = bundle_meta(**fields)
        nets = []
        for i in range(n_members):
            torch.manual_seed(seed + i)
            nets.append(get_network(meta["network"]["name"], **meta["network"]["args"]).eval())
        path = save_bundle(tmp_path / name, meta, [n.state_dict() for n in nets])
        return path, nets

    return make
