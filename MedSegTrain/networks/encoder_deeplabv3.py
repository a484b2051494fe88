"""DeepLabV3 over EfficientNet-B0..B3 / ResNet18/34/50 encoders (PAPERS.md T3; Chen et al. 2017).

Atrous Spatial Pyramid Pooling (ASPP) on the encoder's deepest map, in 2D and 3D: a 1x1 branch,
one 3x3 branch per atrous rate and an image-pooling branch (global average, 1x1 conv, broadcast
back), concatenated and projected by a 1x1 conv; then a 3x3 conv, a 1x1 classifier and
bilinear/trilinear upsampling to the input size.

Where ASPP runs, and the rates: MONAI's encoders are not dilated, so their deepest map has
output stride 32 (Chen et al. dilate the last ResNet block to reach stride 16 and use rates 6, 12,
18 there). ASPP runs on that stride-32 map, and the default rates are halved to 3, 6, 9, so every
branch spans the same extent of the input (3 x 32 = 6 x 16 = 96 pixels) as the paper's. The
image-pooling branch has no batch norm (one value per channel and sample would make batch norm
fail at batch size 1, the 3D case); every other conv is followed by batch norm and ReLU.

The encoder is the same MONAI backbone as ``encoder_unet`` (``model.encoder``, same state-dict
keys), so a local encoder weights file fits every T3 network. Sizes must be divisible by 32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from MedSegTrain.networks.encoder_unets import ENCODER_STRIDE, build_encoder, check_input_size
from MedSegTrain.networks.layers import check_dims, conv_nd, conv_norm_act
from MedSegTrain.networks.registry import register_network

ATROUS_RATES = (3, 6, 9)


class ASPP(nn.Module):
    """1x1 branch + one dilated 3x3 branch per rate + image pooling, concatenated, projected by 1x1."""

    def __init__(self, spatial_dims: int, cin: int, channels: int = 256,
                 rates: tuple[int, ...] = ATROUS_RATES, dropout: float = 0.0) -> None:
        super().__init__()
        if not rates or any(int(r) < 1 for r in rates):
            raise ValueError(f"atrous_rates must be positive integers, got {list(rates)}")
        self.rates = tuple(int(r) for r in rates)
        self.branches = nn.ModuleList([conv_norm_act(spatial_dims, cin, channels, 1)])
        self.branches.extend(conv_norm_act(spatial_dims, cin, channels, 3, dilation=r) for r in self.rates)
        pool = {2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}[spatial_dims](1)
        self.image_pool = nn.Sequential(pool, conv_nd(spatial_dims)(cin, channels, 1), nn.ReLU(inplace=True))
        n_branches = len(self.rates) + 2
        self.project = nn.Sequential(conv_norm_act(spatial_dims, n_branches * channels, channels, 1),
                                     nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Multi-scale context features at the resolution of ``x``."""
        pooled = self.image_pool(x).expand(-1, -1, *x.shape[2:])
        return self.project(torch.cat([*(branch(x) for branch in self.branches), pooled], dim=1))


@register_network("encoder_deeplabv3")
class EncoderDeepLabV3(nn.Module):
    """DeepLabV3 (ASPP on the stride-32 map) over a T3 encoder; logits upsampled to the input size."""

    size_multiple = ENCODER_STRIDE

    def __init__(self, spatial_dims: int = 2, in_channels: int = 1, out_channels: int = 2,
                 encoder: str = "efficientnet-b0", aspp_channels: int = 256,
                 atrous_rates: tuple[int, ...] = ATROUS_RATES, dropout: float = 0.0) -> None:
        super().__init__()
        check_dims(spatial_dims)
        self.spatial_dims = spatial_dims
        self.encoder, enc = build_encoder(encoder, spatial_dims, in_channels)
        self.aspp = ASPP(spatial_dims, enc[-1], aspp_channels, tuple(atrous_rates), dropout)
        self.head = nn.Sequential(conv_norm_act(spatial_dims, aspp_channels, aspp_channels, 3),
                                  conv_nd(spatial_dims)(aspp_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits at the input resolution."""
        check_input_size(x, "encoder_deeplabv3")
        logits = self.head(self.aspp(self.encoder(x)[-1]))
        mode = "bilinear" if self.spatial_dims == 2 else "trilinear"
        return F.interpolate(logits, size=x.shape[2:], mode=mode, align_corners=False)
