"""Window planning (L3, B8): where the network looks, and how overlapping outputs are blended.

Three modes share one description, :class:`WindowPlan`:

* ``sliding_window`` (L3): patches of ``patch_size`` on MONAI's grid (scan interval
  ``int(patch * (1 - overlap))``, the last window flush with the end, the volume zero-padded
  symmetrically where it is smaller than a patch) blended with MONAI's Gaussian importance map
  (sigma = 0.125 x patch) — so a single member without TTA reproduces
  ``monai.inferers.sliding_window_inference(mode="gaussian")``.
* ``whole`` (B8): the whole volume, zero-padded symmetrically to a multiple of ``divisor`` (8),
  in one window.
* ``slices2d``: a 2D model over every axial slice, as windows one slice deep (whole slices padded
  to a multiple of 8, or 2D patches of ``patch_size``).

The plan is computed once per grid and shared by every member and TTA variant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from monai.data.utils import compute_importance_map, dense_patch_slices

from MedSegTrain.bundle.modes import INFERENCE_MODES, SLICES2D, WHOLE
from MedSegTrain.errors import MedSegError


@dataclass(frozen=True)
class WindowPlan:
    """Padding, window positions and blending weights for one ``(z, y, x)`` grid."""

    shape: tuple[int, int, int]
    """Spatial shape of the unpadded input, array order."""
    padding: tuple[tuple[int, int], ...]
    """(before, after) zero padding per axis (z, y, x)."""
    patch: tuple[int, int, int]
    windows: tuple[tuple[slice, slice, slice], ...]
    """Window positions in the padded volume."""
    gaussian: bool
    sigma_scale: float = 0.125

    @property
    def padded_shape(self) -> tuple[int, int, int]:
        return tuple(s + b + a for s, (b, a) in zip(self.shape, self.padding, strict=True))  # type: ignore[return-value]

    @property
    def crop(self) -> tuple[slice, slice, slice]:
        """Slices that take the unpadded input back out of the padded volume."""
        return tuple(slice(b, b + s) for s, (b, _a) in zip(self.shape, self.padding, strict=True))  # type: ignore[return-value]

    def importance(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """The per-window weight map ``(pz, py, px)``: Gaussian (MONAI's), or constant ones."""
        mode = "gaussian" if self.gaussian else "constant"
        return compute_importance_map(self.patch, mode=mode, sigma_scale=self.sigma_scale,
                                      device=device, dtype=torch.float32)

    def pad_torch(self) -> list[int]:
        """The padding in ``torch.nn.functional.pad`` order (last axis first)."""
        return [p for before_after in reversed(self.padding) for p in before_after]


def plan_windows(shape: tuple[int, ...], mode: str, patch_size: tuple[int, ...] | None = None,
                 overlap: float = 0.5, divisor: int = 8) -> WindowPlan:
    """Plan the windows over a ``(z, y, x)`` grid for ``mode``; see the module docstring."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise MedSegError(f"inference needs a 3D (z, y, x) array with every side >= 1, got shape {shape}")
    if mode not in INFERENCE_MODES:
        raise MedSegError(f"inference mode must be one of {', '.join(INFERENCE_MODES)}, got {mode!r}")
    if not 0 <= overlap < 1:
        raise MedSegError(f"inference overlap must be in [0, 1), got {overlap}")
    if mode == WHOLE:
        return _single_window(shape, tuple(_round_up(s, divisor) for s in shape))
    if mode == SLICES2D:
        if patch_size is None:
            in_plane = tuple(_round_up(s, divisor) for s in shape[1:])
            return _sliding(shape, (1, *in_plane), overlap, gaussian=False)
        patch = _check_patch(patch_size, 2, mode)
        return _sliding(shape, (1, *patch), overlap, gaussian=True)
    if patch_size is None:
        raise MedSegError("inference mode 'sliding_window' needs a patch_size [z, y, x]")
    return _sliding(shape, _check_patch(patch_size, 3, mode), overlap, gaussian=True)


def _check_patch(patch_size: tuple[int, ...], ndim: int, mode: str) -> tuple[int, ...]:
    patch = tuple(int(p) for p in patch_size)
    if len(patch) != ndim or min(patch) < 1:
        raise MedSegError(f"inference mode {mode!r} needs a patch_size of {ndim} positive sizes, "
                          f"got {list(patch_size)}")
    return patch


def _round_up(value: int, divisor: int) -> int:
    return int(math.ceil(value / divisor) * divisor)


def _symmetric(total: int, size: int) -> tuple[int, int]:
    diff = max(total - size, 0)
    return diff // 2, diff - diff // 2


def _single_window(shape: tuple[int, ...], padded: tuple[int, ...]) -> WindowPlan:
    padding = tuple(_symmetric(p, s) for p, s in zip(padded, shape, strict=True))
    window = tuple(slice(0, p) for p in padded)
    return WindowPlan(shape, padding, padded, (window,), gaussian=False)  # type: ignore[arg-type]


def _sliding(shape: tuple[int, ...], patch: tuple[int, ...], overlap: float, gaussian: bool) -> WindowPlan:
    """MONAI's grid: symmetric zero padding up to the patch, then ``dense_patch_slices``."""
    padding = tuple(_symmetric(p, s) for p, s in zip(patch, shape, strict=True))
    padded = tuple(s + b + a for s, (b, a) in zip(shape, padding, strict=True))
    interval = tuple(p if p == s else max(int(p * (1 - overlap)), 1)
                     for p, s in zip(patch, padded, strict=True))
    windows = tuple(dense_patch_slices(padded, patch, interval))
    single = all(p == s for p, s in zip(patch, padded, strict=True))
    return WindowPlan(shape, padding, patch, windows, gaussian=gaussian and not single)  # type: ignore[arg-type]
