"""MA-Net over EfficientNet-B0..B3 / ResNet18/34/50 encoders (PAPERS.md T3; Fan et al. 2020).

Two attention blocks on a U-shaped decoder, 2D and 3D:

* the Position-wise Attention Block (PAB) on the bottleneck (stride 32): 1x1 query and key
  projections (``pab_channels``), a 3x3 value convolution; every position attends to every
  other one, ``S = softmax_j(q_i . k_j)`` (no temperature, as in the paper and the DANet block it
  builds on), and the block returns ``x + conv3x3(V S^T)``: global spatial context at the
  coarsest scale, where it is affordable (N^2 for N positions);
* a Multi-scale Fusion Attention Block (MFAB) per skip (strides 16, 8, 4, 2): the high-level
  map is convolved (3x3, then 1x1 to the skip's channels) and upsampled x2; squeeze-and-
  excitation channel weights of the high-level map and of the skip are summed and re-weight
  the high-level map, which is concatenated with the skip and convolved twice (3x3);
* a last block without skip brings stride 2 to the input size, then a 3x3 head.

The encoder is the same MONAI backbone as ``encoder_unet`` (``model.encoder`` with the same state-
dict keys), so a local encoder weights file fits every T3 network. Sizes must be divisible by 32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from MedSegTrain.networks.encoder_unets import ENCODER_STRIDE, build_encoder, check_input_size
from MedSegTrain.networks.layers import check_dims, conv_nd, conv_norm_act
from MedSegTrain.networks.registry import register_network


class PositionAttention(nn.Module):
    """MA-Net's PAB: self-attention over all spatial positions, added to the input."""

    def __init__(self, spatial_dims: int, channels: int, pab_channels: int = 64) -> None:
        super().__init__()
        conv = conv_nd(spatial_dims)
        self.query = conv(channels, pab_channels, 1)
        self.key = conv(channels, pab_channels, 1)
        self.value = conv(channels, channels, 3, padding=1)
        self.out = conv(channels, channels, 3, padding=1)

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """``S`` (batch, N, N): row i is the softmax over positions j of ``q_i . k_j``."""
        q = self.query(x).flatten(2)  # (B, C', N)
        k = self.key(x).flatten(2)
        return torch.softmax(q.transpose(1, 2) @ k, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + out(V S^T)``: each position gets the attention-weighted sum of every position's value."""
        v = self.value(x).flatten(2)  # (B, C, N)
        attended = (v @ self.attention_map(x).transpose(1, 2)).reshape(x.shape)
        return x + self.out(attended)


class _SqueezeExcite(nn.Sequential):
    """Channel weights in (0, 1): global average pool, 1x1 reduce, ReLU, 1x1 expand, sigmoid."""

    def __init__(self, spatial_dims: int, channels: int, reduction: int) -> None:
        conv, hidden = conv_nd(spatial_dims), max(1, channels // reduction)
        pool = {2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}[spatial_dims](1)
        super().__init__(pool, conv(channels, hidden, 1), nn.ReLU(inplace=True), conv(hidden, channels, 1),
                         nn.Sigmoid())


class MultiScaleFusionAttention(nn.Module):
    """MA-Net's MFAB: high-level map re-weighted by the summed channel attention of both scales."""

    def __init__(self, spatial_dims: int, cin: int, skip: int, cout: int, reduction: int = 16) -> None:
        super().__init__()
        self.high = nn.Sequential(conv_norm_act(spatial_dims, cin, cin, 3),
                                  conv_norm_act(spatial_dims, cin, skip, 1))
        self.se_high = _SqueezeExcite(spatial_dims, skip, reduction)
        self.se_low = _SqueezeExcite(spatial_dims, skip, reduction)
        self.fuse = nn.Sequential(conv_norm_act(spatial_dims, 2 * skip, cout, 3),
                                  conv_norm_act(spatial_dims, cout, cout, 3))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Decoder features at the skip's resolution."""
        high = F.interpolate(self.high(x), size=skip.shape[2:], mode="nearest")
        high = high * (self.se_high(high) + self.se_low(skip))
        return self.fuse(torch.cat([high, skip], dim=1))


@register_network("encoder_manet")
class EncoderMANet(nn.Module):
    """MA-Net (PAB at the bottleneck, MFAB per skip) over a T3 encoder; logits at the input size."""

    size_multiple = ENCODER_STRIDE

    def __init__(self, spatial_dims: int = 2, in_channels: int = 1, out_channels: int = 2,
                 encoder: str = "efficientnet-b0",
                 decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16),
                 pab_channels: int = 64, reduction: int = 16) -> None:
        super().__init__()
        check_dims(spatial_dims)
        self.encoder, enc = build_encoder(encoder, spatial_dims, in_channels)
        if len(decoder_channels) != len(enc):
            raise ValueError(f"decoder_channels needs {len(enc)} entries, got {len(decoder_channels)}")
        self.pab = PositionAttention(spatial_dims, enc[-1], pab_channels)
        widths = [enc[-1], *decoder_channels]
        skips = enc[-2::-1]  # strides 16, 8, 4, 2
        self.blocks = nn.ModuleList(
            MultiScaleFusionAttention(spatial_dims, widths[i], skips[i], widths[i + 1], reduction)
            for i in range(len(skips)))
        self.last = nn.Sequential(conv_norm_act(spatial_dims, widths[-2], widths[-1], 3),
                                  conv_norm_act(spatial_dims, widths[-1], widths[-1], 3))
        self.head = conv_nd(spatial_dims)(widths[-1], out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution."""
        check_input_size(x, "encoder_manet")
        features = self.encoder(x)
        y = self.pab(features[-1])
        for block, skip in zip(self.blocks, features[-2::-1], strict=True):
            y = block(y, skip)
        y = F.interpolate(y, size=x.shape[2:], mode="nearest")
        return self.head(self.last(y))
