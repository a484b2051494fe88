"""nnU-Net-style U-Net (Kloenne et al.'s C5 baseline) on MONAI's DynUNet, plus a simple planner.

Instance normalisation and LeakyReLU(0.01) as in nnU-Net; kernel sizes and strides per level
come from :func:`plan_unet`, which follows nnU-Net's idea in a few lines: pool an axis only while
its feature map stays >= ``min_feature_size`` and its spacing is not much coarser than the finest
axis, and use 1-wide kernels along axes that are still much coarser than the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.nets import DynUNet
from torch import nn

from MedSegTrain.networks.layers import check_dims
from MedSegTrain.networks.registry import register_network


def plan_unet(patch_size: Sequence[int], spacing: Sequence[float] | None = None,
              min_feature_size: int = 4, max_levels: int = 5,
              anisotropy_ratio: float = 2.0) -> dict[str, list]:
    """Kernel sizes and strides for a patch (array order) and its voxel spacing (same order).

    Returns ``{"kernel_size": [...], "strides": [...]}`` ready for ``get_network("unet", ...)``;
    the first level has stride 1. ``patch_size`` must be divisible by the product of the strides
    along each axis, which this plan guarantees for sizes it pools.
    """
    dims = len(patch_size)
    current_spacing = [float(s) for s in (spacing or [1.0] * dims)]
    size = [int(s) for s in patch_size]
    kernels: list[list[int]] = []
    strides: list[list[int]] = [[1] * dims]
    for _ in range(max_levels):
        finest = min(current_spacing)
        stride = [2 if size[a] % 2 == 0 and size[a] // 2 >= min_feature_size
                  and current_spacing[a] <= anisotropy_ratio * finest else 1 for a in range(dims)]
        if not any(s == 2 for s in stride):
            break
        kernels.append([3 if current_spacing[a] <= anisotropy_ratio * finest else 1 for a in range(dims)])
        strides.append(stride)
        size = [size[a] // stride[a] for a in range(dims)]
        current_spacing = [current_spacing[a] * stride[a] for a in range(dims)]
    finest = min(current_spacing)
    kernels.append([3 if current_spacing[a] <= anisotropy_ratio * finest else 1 for a in range(dims)])
    return {"kernel_size": kernels, "strides": strides}


@register_network("unet")
class NNUNet(nn.Module):
    """DynUNet with instance norm + LeakyReLU(0.01); deep-supervision outputs as a list."""

    def __init__(self, spatial_dims: int = 3, in_channels: int = 1, out_channels: int = 2,
                 kernel_size: Sequence[Sequence[int] | int] = (3, 3, 3, 3, 3),
                 strides: Sequence[Sequence[int] | int] = (1, 2, 2, 2, 2),
                 filters: Sequence[int] | None = None, base_filters: int = 32, max_filters: int = 320,
                 deep_supervision: bool = False, deep_supr_num: int = 2, dropout: float = 0.0,
                 res_block: bool = False) -> None:
        super().__init__()
        check_dims(spatial_dims)
        if len(kernel_size) != len(strides):
            raise ValueError(f"kernel_size ({len(kernel_size)} levels) and strides "
                             f"({len(strides)} levels) must have the same length")
        levels = len(strides)
        if filters is None:
            filters = [min(base_filters * 2**i, max_filters) for i in range(levels)]
        self.deep_supervision = deep_supervision
        self.net = DynUNet(
            spatial_dims=spatial_dims, in_channels=in_channels, out_channels=out_channels,
            kernel_size=[list(k) if isinstance(k, Sequence) else k for k in kernel_size],
            strides=[list(s) if isinstance(s, Sequence) else s for s in strides],
            upsample_kernel_size=[list(s) if isinstance(s, Sequence) else s for s in strides[1:]],
            filters=list(filters), dropout=dropout or None,
            norm_name=("instance", {"affine": True}), act_name=("leakyrelu", {"negative_slope": 0.01}),
            deep_supervision=deep_supervision, deep_supr_num=deep_supr_num if deep_supervision else 1,
            res_block=res_block,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        """Logits; in training with deep supervision ``[main, aux...]``, all at the input size."""
        out = self.net(x)
        if self.deep_supervision and self.training:
            return list(torch.unbind(out, dim=1))
        return out
