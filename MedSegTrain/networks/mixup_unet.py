"""The mixup paper's lean U-Net (Isaksson et al., PAPERS.md X5).

Differences from the classic U-Net, as the paper lists them: filters grow by a constant
``increment`` (+14) per level instead of doubling; one convolution per level; the very first
operation is strided; PReLU activations; dropout 0.5 in the encoder, element-wise (each
activation dropped on its own: the paper's plain "dropout" in TensorFlow 2.3; not whole feature
maps). Works in 2D (the paper) and 3D. Input sizes must be divisible by ``2 ** levels`` along
each strided axis.
"""

from __future__ import annotations

import torch
from torch import nn

from MedSegTrain.networks.layers import check_dims, conv_nd, conv_transpose_nd
from MedSegTrain.networks.registry import register_network


def mixup_unet_channels(base_filters: int, increment: int, levels: int) -> list[int]:
    """The encoder channel plan: ``base, base + inc, base + 2 inc, ...`` (X5's +14 rule)."""
    return [base_filters + increment * level for level in range(levels)]


@register_network("mixup_unet")
class MixupUNet(nn.Module):
    """U-Net of X5: one strided conv + PReLU (+ dropout) per encoder level, mirrored decoder."""

    def __init__(self, spatial_dims: int = 2, in_channels: int = 1, out_channels: int = 2,
                 base_filters: int = 16, increment: int = 14, levels: int = 5,
                 dropout: float = 0.5, kernel_size: int = 3) -> None:
        super().__init__()
        check_dims(spatial_dims)
        if levels < 2:
            raise ValueError(f"levels must be at least 2, got {levels}")
        conv, up = conv_nd(spatial_dims), conv_transpose_nd(spatial_dims)
        pad = kernel_size // 2
        self.channels = mixup_unet_channels(base_filters, increment, levels)
        self.encoder = nn.ModuleList()
        previous = in_channels
        for channels in self.channels:
            self.encoder.append(nn.Sequential(
                conv(previous, channels, kernel_size, stride=2, padding=pad),
                nn.PReLU(channels),
                nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
            ))
            previous = channels
        self.upsample = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for level in range(levels - 2, -1, -1):
            deeper, skip = self.channels[level + 1], self.channels[level]
            self.upsample.append(up(deeper, skip, 2, stride=2))
            self.decoder.append(nn.Sequential(conv(2 * skip, skip, kernel_size, padding=pad),
                                              nn.PReLU(skip)))
        self.final_upsample = up(self.channels[0], self.channels[0], 2, stride=2)
        self.head = conv(self.channels[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution."""
        skips = []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
        x = skips.pop()
        for upsample, stage in zip(self.upsample, self.decoder, strict=True):
            x = stage(torch.cat([upsample(x), skips.pop()], dim=1))
        return self.head(self.final_upsample(x))
