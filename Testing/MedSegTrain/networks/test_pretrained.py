"""Pretrained encoder weights from a local file (T3): loaded, adapted, refused when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from MedSegTrain.errors import MedSegError
from MedSegTrain.networks import get_network, load_encoder_weights


def _net(in_channels: int = 1):
    return get_network("encoder_unet", spatial_dims=2, in_channels=in_channels, out_channels=2,
                       encoder="resnet18")


def test_encoder_weights_round_trip_through_safetensors(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = _net()
    path = tmp_path / "enc.safetensors"
    save_file({f"encoder.{k}": v.contiguous() for k, v in source.encoder.state_dict().items()}, str(path))
    torch.manual_seed(2)
    target = _net()
    report = load_encoder_weights(target, path)
    assert report["loaded"] == len(source.encoder.state_dict())
    for key, value in source.encoder.state_dict().items():
        assert torch.equal(target.encoder.state_dict()[key], value)


def test_three_channel_imagenet_stem_is_averaged_for_grey_input(tmp_path: Path) -> None:
    rgb = _net(in_channels=3)
    state = rgb.encoder.state_dict()
    path = tmp_path / "imagenet.pt"
    torch.save(state, path)
    grey = _net(in_channels=1)
    report = load_encoder_weights(grey, path)
    assert report["adapted_input"] == 1
    stem = "conv1.weight"
    expected = state[stem].mean(dim=1, keepdim=True) * 3
    assert torch.allclose(grey.encoder.state_dict()[stem], expected)


def test_unrelated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"something.else": torch.zeros(3)}, str(path))
    with pytest.raises(MedSegError, match="no tensor"):
        load_encoder_weights(_net(), path)
    with pytest.raises(MedSegError, match="does not exist"):
        load_encoder_weights(_net(), tmp_path / "missing.pt")
