"""The T3 encoder networks' shared contract: shapes in 2D and 3D per encoder family, gradients into
the encoder, the size rule, one encoder weights file for all of them, rebuilding from model.json."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import save_file

from MedSegTrain.bundle import load_bundle, save_bundle
from MedSegTrain.networks import get_network, load_encoder_weights

ENCODER_NETS = ("encoder_unet", "encoder_unetpp", "encoder_manet", "encoder_deeplabv3")
NEW_NETS = ("encoder_manet", "encoder_deeplabv3")
FAMILIES = ("resnet18", "efficientnet-b0")
SHAPES = {2: (2, 1, 64, 64), 3: (2, 1, 32, 32, 32)}  # batch 2: a 1-voxel bottleneck needs it for batch norm
SMALL = {"encoder_manet": {"decoder_channels": [16, 16, 8, 8, 8], "pab_channels": 8},  # keeps the test fast
         "encoder_deeplabv3": {"aspp_channels": 16}}


@pytest.fixture(autouse=True)
def two_threads() -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


def _stem(encoder: str) -> str:
    return "conv1.weight" if encoder.startswith("resnet") else "_conv_stem.weight"


@pytest.mark.parametrize("dims", (2, 3))
@pytest.mark.parametrize("encoder", FAMILIES)
@pytest.mark.parametrize("name", NEW_NETS)
def test_logits_at_the_input_size_and_gradients_reach_the_encoder(name: str, encoder: str, dims: int) -> None:
    torch.manual_seed(0)
    shape = SHAPES[dims]
    net = get_network(name, spatial_dims=dims, in_channels=1, out_channels=3, encoder=encoder, **SMALL[name])
    y = net(torch.randn(*shape))
    assert y.shape == (shape[0], 3, *shape[2:])
    y.square().mean().backward()
    stem = dict(net.encoder.named_parameters())[_stem(encoder)]
    assert stem.grad is not None and stem.grad.abs().sum() > 0
    # every parameter outside the encoder takes part (no dead branch of the decoder or the ASPP)
    unused = [n for n, p in net.named_parameters() if not n.startswith("encoder.") and p.grad is None]
    assert unused == []


@pytest.mark.parametrize("name", ENCODER_NETS)
def test_a_size_not_divisible_by_32_is_a_clear_error(name: str) -> None:
    net = get_network(name, spatial_dims=2, in_channels=1, out_channels=2, encoder="resnet18")
    with pytest.raises(ValueError, match=rf"{name}: input size \(48, 64\) must be divisible by 32"):
        net(torch.randn(2, 1, 48, 64))


@pytest.mark.parametrize("name", NEW_NETS)
def test_encoder_weights_made_from_encoder_unet_land_in_the_encoder(name: str, tmp_path: Path) -> None:
    torch.manual_seed(1)
    unet = get_network("encoder_unet", spatial_dims=2, in_channels=1, out_channels=2, encoder="resnet18")
    state = unet.encoder.state_dict()
    path = tmp_path / "encoder.safetensors"
    save_file({f"encoder.{k}": v.contiguous() for k, v in state.items()}, str(path))
    torch.manual_seed(2)
    net = get_network(name, spatial_dims=2, in_channels=1, out_channels=2, encoder="resnet18")
    assert net.encoder.state_dict().keys() == state.keys()
    report = load_encoder_weights(net, path)
    assert report == {"loaded": len(state), "adapted_input": 0, "missing": 0}
    assert all(torch.equal(net.encoder.state_dict()[k], v) for k, v in state.items())
    # and back: a file made from the new network's encoder initialises encoder_unet
    back = tmp_path / "back.pt"
    torch.save({k: v.clone() for k, v in net.encoder.state_dict().items()}, back)
    fresh = get_network("encoder_unet", spatial_dims=2, in_channels=1, out_channels=2, encoder="resnet18")
    assert load_encoder_weights(fresh, back)["loaded"] == len(state)


ARGS = {
    "encoder_manet": {"decoder_channels": [32, 16, 16, 8, 8], "pab_channels": 8, "reduction": 4},
    "encoder_deeplabv3": {"aspp_channels": 16, "atrous_rates": [2, 4], "dropout": 0.2},
}


@pytest.mark.parametrize("name", NEW_NETS)
def test_model_json_network_args_rebuild_the_same_model(name: str, tmp_path: Path) -> None:
    args = {"spatial_dims": 2, "in_channels": 1, "out_channels": 2, "encoder": "efficientnet-b0",
            **ARGS[name]}
    torch.manual_seed(3)
    net = get_network(name, **copy.deepcopy(args)).eval()
    meta = {"name": "t3", "network": {"name": name, "args": args},
            "input": {"channels": ["T2"], "modality": "MR"},
            "labels": {"background": 0, "prostate": 1},
            "output": {"activation": "softmax", "regions": None, "region_rebuild": None},
            "preprocessing": {"normalization": "zscore"},
            "inference": {"mode": "slices2d", "patch_size": [1, 64, 64], "overlap": 0.5},
            "training": {"recipe": {}, "validation_metrics": {}}}
    member = load_bundle(save_bundle(tmp_path / "bundle", meta, [net.state_dict()])).build_member(0)
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(member(x), net(x), rtol=0, atol=0)
