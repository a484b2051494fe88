"""Mixed-Scale Dense network (Pelt & Sethian 2018), the CT-cues paper's second architecture (C5).

Every layer sees the input and all previous layers' outputs (dense connections) through a
3x3(x3) convolution whose dilation cycles through ``1 .. max_dilation`` (mixed scales, no
down-sampling); the final 1x1 convolution reads all feature maps. As Kloenne et al. modified
it: instance normalisation and LeakyReLU(0.01). 2D and 3D.
"""

from __future__ import annotations

import torch
from torch import nn

from MedSegTrain.networks.layers import check_dims, conv_nd, norm_layer
from MedSegTrain.networks.registry import register_network


def msd_dilations(depth: int, max_dilation: int) -> list[int]:
    """Dilation of layer i: ``(i mod max_dilation) + 1`` (the MS-D paper's cycling scheme)."""
    return [(i % max_dilation) + 1 for i in range(depth)]


@register_network("msd_net")
class MSDNet(nn.Module):
    """Dense stack of dilated convolutions, ``width`` channels per layer."""

    def __init__(self, spatial_dims: int = 2, in_channels: int = 1, out_channels: int = 2,
                 depth: int = 40, width: int = 1, max_dilation: int = 10, norm: str = "instance") -> None:
        super().__init__()
        check_dims(spatial_dims)
        conv = conv_nd(spatial_dims)
        self.layers = nn.ModuleList()
        channels = in_channels
        for dilation in msd_dilations(depth, max_dilation):
            self.layers.append(nn.Sequential(
                conv(channels, width, 3, padding=dilation, dilation=dilation),
                norm_layer(norm, spatial_dims, width, groups=1),
                nn.LeakyReLU(0.01, inplace=True),
            ))
            channels += width
        self.head = conv(channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution."""
        features = x
        for layer in self.layers:
            features = torch.cat([features, layer(features)], dim=1)
        return self.head(features)
