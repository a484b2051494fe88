"""Convolutional Block Attention Module (Woo et al. 2018), the BraTS paper's optional B2."""

from __future__ import annotations

import torch
from torch import nn

from MedSegTrain.networks.layers import conv_nd


class CBAM(nn.Module):
    """Channel attention (shared MLP on average- and max-pooled features), then spatial attention."""

    def __init__(self, spatial_dims: int, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        conv = conv_nd(spatial_dims)
        self.mlp = nn.Sequential(conv(channels, hidden, 1), nn.ReLU(inplace=True), conv(hidden, channels, 1))
        self.spatial = conv(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reweight channels, then locations."""
        dims = tuple(range(2, x.ndim))
        avg = x.mean(dim=dims, keepdim=True)
        mx = x.amax(dim=dims, keepdim=True)
        x = x * torch.sigmoid(self.mlp(avg) + self.mlp(mx))
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial(pooled))
