"""Small building blocks shared by the hand-written networks (dimension-agnostic)."""

from __future__ import annotations

from torch import nn

NORMS = ("instance", "group", "batch", "none")


def conv_nd(spatial_dims: int) -> type[nn.Module]:
    """``nn.Conv2d`` or ``nn.Conv3d``."""
    return {2: nn.Conv2d, 3: nn.Conv3d}[check_dims(spatial_dims)]


def conv_transpose_nd(spatial_dims: int) -> type[nn.Module]:
    """``nn.ConvTranspose2d`` or ``nn.ConvTranspose3d``."""
    return {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[check_dims(spatial_dims)]


def norm_layer(kind: str, spatial_dims: int, channels: int, groups: int = 8) -> nn.Module:
    """Instance norm (affine), group norm (``groups`` or fewer), batch norm, or nothing."""
    if kind == "instance":
        return {2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}[spatial_dims](channels, affine=True)
    if kind == "group":
        while channels % groups:
            groups -= 1
        return nn.GroupNorm(groups, channels)
    if kind == "batch":
        return {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[spatial_dims](channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


def check_dims(spatial_dims: int) -> int:
    """Validate ``spatial_dims`` (2 or 3)."""
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims!r}")
    return spatial_dims


def conv_norm_act(spatial_dims: int, cin: int, cout: int, kernel: int = 3,
                  dilation: int = 1) -> nn.Sequential:
    """Convolution (same padding, no bias) + batch norm + ReLU, the block of the encoder-decoder nets."""
    conv = conv_nd(spatial_dims)(cin, cout, kernel, padding=dilation * (kernel // 2), dilation=dilation,
                                 bias=False)
    return nn.Sequential(conv, norm_layer("batch", spatial_dims, cout), nn.ReLU(inplace=True))
