"""Turning bundle members into the plain ``nn.Module`` callables the runner expects.

The runner always feeds ``(N, C, z, y, x)`` windows. A 2D model (``spatial_dims == 2``) is
wrapped by :class:`SliceWise`, which folds the slices into the batch, so the same window, TTA
and blending code serves 2D and 3D models.
"""

from __future__ import annotations

import torch
from torch import nn


class SliceWise(nn.Module):
    """Apply a 2D network to every axial slice of a 5D batch: ``(N, C, z, y, x) -> (N, K, z, y, x)``."""

    def __init__(self, net2d: nn.Module) -> None:
        super().__init__()
        self.net = net2d

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        n, c, z, y, x = batch.shape
        slices = batch.permute(0, 2, 1, 3, 4).reshape(n * z, c, y, x)
        out = self.net(slices)
        if isinstance(out, (list, tuple)):
            out = out[0]
        k = out.shape[1]
        return out.reshape(n, z, k, *out.shape[2:]).permute(0, 2, 1, 3, 4)
