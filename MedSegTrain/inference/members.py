"""Turning bundle members into the plain ``nn.Module`` callables the runner expects.

The runner always feeds ``(N, C, z, y, x)`` windows. A 2D model (``spatial_dims == 2``) is
wrapped by :class:`SliceWise`, which folds the slices into the batch, so the same window, TTA
and blending code serves 2D and 3D models. :class:`LazyMember` loads a member's weights only
when its pass begins and drops them when it ends, so an ensemble holds one member in memory at a
time (nnU-Net's predictor holds every fold's weights for the whole run).
"""

from __future__ import annotations

from collections.abc import Callable

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


class LazyMember(nn.Module):
    """A member built by ``build`` on first use and dropped by :meth:`release`.

    The runner calls ``release()`` after the member's pass over the volume; a later forward builds
    it again. ``build`` returns the ready network (weights loaded, eval mode, backend-wrapped).
    """

    def __init__(self, build: Callable[[], nn.Module]) -> None:
        super().__init__()
        self._build = build
        self._built: list[nn.Module] = []  # a list, so nn.Module does not register it as a child

    def module(self) -> nn.Module:
        """The built member (built now if it is not)."""
        if not self._built:
            self._built.append(self._build())
        return self._built[0]

    def release(self) -> None:
        """Drop the built member and whatever it holds (weights, compiled graphs)."""
        for module in self._built:
            inner = getattr(module, "release", None)
            if callable(inner):
                inner()
        self._built.clear()

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.module()(batch)
