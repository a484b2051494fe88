"""The BraTS 2020 ensemble's 3D U-Net (Henry et al., PAPERS.md B1–B3).

B1: four encoder stages of two 3x3x3 convolutions (48 filters first, doubled after every
2x2x2 max-pool), two dilated (rate 2) convolutions after the last stage concatenated with that
stage's output, trilinear upsampling, concatenation skips, a decoder whose lowest stage has a
single convolution, a 1x1x1 head; GroupNorm (pipeline A) or InstanceNorm (B); ReLU.
B2: optional CBAM attention at the end of each encoder stage.
B3: deep supervision — extra 1x1x1 heads after the dilated bottleneck and after every decoder
stage but the last, upsampled to the input size; in training mode ``forward`` returns
``[main, aux_1, ..., aux_4]`` (main first), in eval mode the main logits only.
The head gives logits: apply sigmoid for the ET/TC/WT regions (B4) in the loss or inference.
Inputs must be divisible by 8 along each axis (pad to a multiple of 8, B8).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from MedSegTrain.networks.cbam import CBAM
from MedSegTrain.networks.layers import check_dims, conv_nd, norm_layer
from MedSegTrain.networks.registry import register_network


def _conv_block(spatial_dims: int, cin: int, cout: int, norm: str, dilation: int = 1) -> nn.Sequential:
    conv = conv_nd(spatial_dims)
    return nn.Sequential(conv(cin, cout, 3, padding=dilation, dilation=dilation, bias=False),
                         norm_layer(norm, spatial_dims, cout), nn.ReLU(inplace=True))


@register_network("brats_unet")
class BratsUNet(nn.Module):
    """Encoder (4 stages) + dilated pseudo-5th stage + decoder, optional CBAM and deep supervision."""

    def __init__(self, spatial_dims: int = 3, in_channels: int = 4, out_channels: int = 3,
                 base_filters: int = 48, norm: str = "group", attention: bool = False,
                 deep_supervision: bool = False) -> None:
        super().__init__()
        check_dims(spatial_dims)
        self.spatial_dims = spatial_dims
        self.deep_supervision = deep_supervision
        widths = [base_filters * 2**i for i in range(4)]
        self.widths = widths
        self.pool = {2: nn.MaxPool2d, 3: nn.MaxPool3d}[spatial_dims](2, 2)
        self.encoder = nn.ModuleList()
        previous = in_channels
        for width in widths:
            layers: list[nn.Module] = [_conv_block(spatial_dims, previous, width, norm),
                                       _conv_block(spatial_dims, width, width, norm)]
            if attention:
                layers.append(CBAM(spatial_dims, width))
            self.encoder.append(nn.Sequential(*layers))
            previous = width
        deepest = widths[-1]
        self.dilated = nn.Sequential(_conv_block(spatial_dims, deepest, deepest, norm, dilation=2),
                                     _conv_block(spatial_dims, deepest, deepest, norm, dilation=2))
        bottleneck = 2 * deepest
        self.decoder = nn.ModuleList([_conv_block(spatial_dims, bottleneck, deepest, norm)])
        for level in (2, 1, 0):
            cin = widths[level + 1] + widths[level]
            self.decoder.append(nn.Sequential(_conv_block(spatial_dims, cin, widths[level], norm),
                                              _conv_block(spatial_dims, widths[level], widths[level], norm)))
        conv = conv_nd(spatial_dims)
        self.head = conv(widths[0], out_channels, 1)
        aux_inputs = [bottleneck, deepest, widths[2], widths[1]] if deep_supervision else []
        self.aux_heads = nn.ModuleList(conv(c, out_channels, 1) for c in aux_inputs)

    def _upsample(self, x: torch.Tensor, size: torch.Size) -> torch.Tensor:
        mode = "trilinear" if self.spatial_dims == 3 else "bilinear"
        return F.interpolate(x, size=size, mode=mode, align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        """Main logits (eval) or ``[main, *auxiliary]`` logits at the input size (training + DS)."""
        size = x.shape[2:]
        skips = []
        for index, stage in enumerate(self.encoder):
            x = stage(x if index == 0 else self.pool(x))
            skips.append(x)
        x = torch.cat([self.dilated(x), x], dim=1)
        features = [x]
        x = self.decoder[0](x)
        features.append(x)
        for stage, skip in zip(self.decoder[1:], reversed(skips[:-1]), strict=True):
            x = stage(torch.cat([self._upsample(x, skip.shape[2:]), skip], dim=1))
            features.append(x)
        main = self.head(x)
        if not (self.deep_supervision and self.training):
            return main
        aux = [self._upsample(head(f), size) for head, f in zip(self.aux_heads, features[:4], strict=True)]
        return [main, *aux]
