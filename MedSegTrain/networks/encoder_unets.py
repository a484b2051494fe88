"""U-Net and UNet++ decoders over EfficientNet-B0..B3 / ResNet18/34/50 encoders (PAPERS.md T3).

The encoders are MONAI's (the ``FlexibleUNet`` backbone registry); weights are never fetched:
``pretrained`` is always off here, and ImageNet (or in-domain) encoder weights come from a local
file through :func:`MedSegTrain.networks.pretrained.load_encoder_weights`.
``encoder_unet`` is MONAI's FlexibleUNet; ``encoder_unetpp`` puts a nested UNet++ decoder
(Zhou et al. 2018: node X[i][j] sees X[i][0..j-1] and the upsampled X[i+1][j-1]) on the same
encoder. Input sizes must be divisible by 32 (the encoders' total stride): other sizes raise a
``ValueError`` naming the size, from :func:`check_input_size`, shared by every encoder network.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from monai.networks.nets import FlexibleUNet
from monai.networks.nets.flexible_unet import FLEXUNET_BACKBONE
from torch import nn

from MedSegTrain.networks.layers import check_dims, conv_nd, norm_layer
from MedSegTrain.networks.registry import register_network

ENCODERS = ("efficientnet-b0", "efficientnet-b1", "efficientnet-b2", "efficientnet-b3",
            "resnet18", "resnet34", "resnet50")
ENCODER_STRIDE = 32


def check_input_size(x: torch.Tensor, network: str) -> None:
    """Refuse an input the encoder cannot halve five times (skips would not line up with the decoder)."""
    size = tuple(int(s) for s in x.shape[2:])
    if any(s % ENCODER_STRIDE for s in size):
        raise ValueError(f"{network}: input size {size} must be divisible by {ENCODER_STRIDE} along every "
                         f"spatial axis (pad or crop it, or choose a patch.size that is)")


def _check_encoder(encoder: str) -> None:
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")


def build_encoder(encoder: str, spatial_dims: int, in_channels: int) -> tuple[nn.Module, list[int]]:
    """A MONAI backbone returning 5 feature maps (strides 2..32) and their channel counts."""
    _check_encoder(encoder)
    entry = FLEXUNET_BACKBONE.register_dict[encoder]
    params = copy.deepcopy(entry["parameter"])
    params.update({"spatial_dims": spatial_dims, "in_channels": in_channels, "pretrained": False})
    return entry["type"](**params), list(entry["feature_channel"])


@register_network("encoder_unet")
class EncoderUNet(nn.Module):
    """MONAI FlexibleUNet with one of the T3 encoders (never downloads weights)."""

    size_multiple = ENCODER_STRIDE

    def __init__(self, spatial_dims: int = 2, in_channels: int = 1, out_channels: int = 2,
                 encoder: str = "efficientnet-b0",
                 decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)) -> None:
        super().__init__()
        check_dims(spatial_dims)
        _check_encoder(encoder)
        self.net = FlexibleUNet(in_channels=in_channels, out_channels=out_channels, backbone=encoder,
                                pretrained=False, decoder_channels=tuple(decoder_channels),
                                spatial_dims=spatial_dims)
        self.encoder = self.net.encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution."""
        check_input_size(x, "encoder_unet")
        return self.net(x)


class _Node(nn.Sequential):
    def __init__(self, spatial_dims: int, cin: int, cout: int) -> None:
        conv = conv_nd(spatial_dims)
        super().__init__(conv(cin, cout, 3, padding=1, bias=False), norm_layer("batch", spatial_dims, cout),
                         nn.ReLU(inplace=True), conv(cout, cout, 3, padding=1, bias=False),
                         norm_layer("batch", spatial_dims, cout), nn.ReLU(inplace=True))


@register_network("encoder_unetpp")
class EncoderUNetPlusPlus(nn.Module):
    """UNet++ nested decoder over a T3 encoder; the output node X[0][4] is upsampled x2 to the input."""

    size_multiple = ENCODER_STRIDE

    def __init__(self, spatial_dims: int = 2, in_channels: int = 1, out_channels: int = 2,
                 encoder: str = "efficientnet-b0",
                 decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)) -> None:
        super().__init__()
        check_dims(spatial_dims)
        self.spatial_dims = spatial_dims
        self.encoder, enc_channels = build_encoder(encoder, spatial_dims, in_channels)
        depth = len(enc_channels)
        if len(decoder_channels) != depth:
            raise ValueError(f"decoder_channels needs {depth} entries, got {len(decoder_channels)}")
        # width[i]: channels of every decoder node on level i (level 0 = stride 2).
        self.width = [decoder_channels[depth - 1 - i] for i in range(depth)]
        self.nodes = nn.ModuleDict()
        for j in range(1, depth):
            for i in range(depth - j):
                cin = enc_channels[i] + (j - 1) * self.width[i] + (enc_channels[i + 1] if j == 1
                                                                    else self.width[i + 1])
                self.nodes[f"{i}_{j}"] = _Node(spatial_dims, cin, self.width[i])
        self.head = conv_nd(spatial_dims)(self.width[0], out_channels, 3, padding=1)
        self.depth = depth

    def _up(self, x: torch.Tensor, size: torch.Size) -> torch.Tensor:
        return F.interpolate(x, size=size, mode="nearest")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution."""
        check_input_size(x, "encoder_unetpp")
        size = x.shape[2:]
        grid: dict[tuple[int, int], torch.Tensor] = {(i, 0): f for i, f in enumerate(self.encoder(x))}
        for j in range(1, self.depth):
            for i in range(self.depth - j):
                same_level = [grid[(i, k)] for k in range(j)]
                below = self._up(grid[(i + 1, j - 1)], grid[(i, 0)].shape[2:])
                grid[(i, j)] = self.nodes[f"{i}_{j}"](torch.cat([*same_level, below], dim=1))
        top = grid[(0, self.depth - 1)]
        return self.head(self._up(top, size))
