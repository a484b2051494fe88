"""CT acquisition cues (C4): slice skipping, slice interpolation and intensity range shift.

Kloenne et al. augment for what varies between CT scanners: the slice spacing and the
calibration of the intensity range. On a 3D batch ``(N, C, z, y, x)``:

* ``slice_skip``: keep every ``k``-th slice along ``axis`` (``k`` uniform in
  ``2..max_stride``, random phase) and replace every other slice by the nearest kept one
  (ties: the earlier one) - a scan with ``k`` times coarser spacing, shown on the fine grid.
* ``slice_interpolation``: the same kept slices, with the slices between them linearly
  interpolated (constant beyond the first/last kept slice) - a thick-slice reconstruction.
* ``intensity_range_shift``: ``x * a + b`` with ``a ~ U(scale)``, ``b ~ U(shift)`` for the whole
  sample (the paper applies it to 20 % of the samples).

The slice transforms degrade only the image: the mask keeps the true anatomy the network has
to recover. The batch keeps its shape. A 2D batch has no slice axis: there they do nothing and
warn once, so a CT recipe still runs when training planned 2D patches.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from typing import Any

import torch

from .base import Labels, Options, Params, Transform, applied_indices
from .randomness import bernoulli, integers, uniform


class _SliceResampling(Transform):
    """Shared sampling of the stride and phase of the kept slices."""

    def __init__(self, p: float = 0.2, max_stride: int = 3, axis: int = 0) -> None:
        super().__init__(p)
        self.max_stride = max_stride
        self.axis = axis
        self._warned_2d = False

    @classmethod
    def from_options(cls, options: Options) -> _SliceResampling:
        axis = options.integer("axis", 0, minimum=-3)
        if axis > 2:
            raise options.fail(f"'axis' must be a spatial axis in array order (0..2 or -3..-1), got {axis}")
        return cls(
            p=options.probability(default=0.2), max_stride=options.integer("max_stride", 3, 2), axis=axis
        )

    def options(self) -> dict[str, Any]:
        return {**super().options(), "max_stride": self.max_stride, "axis": self.axis}

    def sample(self, shape: torch.Size, generator: torch.Generator, device: torch.device) -> Params:
        n = shape[0]
        stride = integers(generator, 2, self.max_stride + 1, (n,), torch.device("cpu"))
        phase = (uniform(generator, (n,), 0.0, 1.0, torch.device("cpu")) * stride).long()
        applied = bernoulli(generator, self.p, (n,), device)
        if len(shape) != 5:
            # A 2D batch (slices) has no slice axis: the recipe stays usable when training
            # planned 2D patches, and says once that this transform does nothing there.
            if not self._warned_2d:
                warnings.warn(
                    f"augmentation {self.name} needs 3D batches (N, C, z, y, x); it leaves batches of "
                    f"shape {tuple(shape)} unchanged (preset ct_cues_2d is the 2D recipe)",
                    stacklevel=2,
                )
                self._warned_2d = True
            applied = torch.zeros_like(applied)
        return {
            "applied": applied,
            "stride": stride.to(device),
            "phase": phase.to(device),
        }

    def apply(self, images: torch.Tensor, labels: Labels, params: Params) -> tuple[torch.Tensor, Labels]:
        index = applied_indices(params["applied"])
        samples = range(images.shape[0]) if index is None else index.tolist()
        dim = 2 + self.axis % 3
        result = images.clone()
        for sample in samples:
            stride, phase = int(params["stride"][sample]), int(params["phase"][sample])
            result[sample] = self._resample(images[sample], dim - 1, stride, phase)
        return result, labels

    @abstractmethod
    def _resample(self, volume: torch.Tensor, dim: int, stride: int, phase: int) -> torch.Tensor:
        """One sample's volume (C, z, y, x) rebuilt from its kept slices along ``dim``."""


def kept_slice_bounds(length: int, stride: int, phase: int) -> tuple[int, int]:
    """First and last kept slice of ``length`` slices kept at ``phase, phase + stride, ...``."""
    phase = min(phase, length - 1)
    return phase, phase + stride * ((length - 1 - phase) // stride)


class SliceSkip(_SliceResampling):
    """Simulated coarse slice spacing, nearest-slice reconstruction (C4)."""

    name = "slice_skip"

    def _resample(self, volume: torch.Tensor, dim: int, stride: int, phase: int) -> torch.Tensor:
        length = volume.shape[dim]
        first, last = kept_slice_bounds(length, stride, phase)
        position = torch.arange(length, device=volume.device)
        # Nearest kept slice; adding (stride - 1) // 2 before flooring sends ties to the earlier one.
        steps = torch.div(position - first + (stride - 1) // 2, stride, rounding_mode="floor")
        source = (first + steps * stride).clamp(first, last)
        return volume.index_select(dim, source)


class SliceInterpolation(_SliceResampling):
    """Simulated thick slices with linearly interpolated intermediate slices (C4)."""

    name = "slice_interpolation"

    def _resample(self, volume: torch.Tensor, dim: int, stride: int, phase: int) -> torch.Tensor:
        length = volume.shape[dim]
        first, last = kept_slice_bounds(length, stride, phase)
        position = torch.arange(length, device=volume.device).clamp(first, last)
        below = first + torch.div(position - first, stride, rounding_mode="floor") * stride
        above = (below + stride).clamp(max=last)
        weight = ((position - below).to(volume.dtype) / stride).view(
            [-1 if axis == dim else 1 for axis in range(volume.ndim)]
        )
        return torch.lerp(volume.index_select(dim, below), volume.index_select(dim, above), weight)


class IntensityRangeShift(Transform):
    """Shift (and optionally rescale) a sample's whole intensity range (C4: 20 % of samples)."""

    name = "intensity_range_shift"

    def __init__(
        self,
        p: float = 0.2,
        shift: tuple[float, float] = (-0.1, 0.1),
        scale: tuple[float, float] = (1.0, 1.0),
    ) -> None:
        super().__init__(p)
        self.shift = shift
        self.scale = scale

    @classmethod
    def from_options(cls, options: Options) -> IntensityRangeShift:
        return cls(
            p=options.probability(default=0.2),
            shift=options.interval("shift", (-0.1, 0.1)),
            scale=options.interval("scale", (1.0, 1.0), minimum=0.0),
        )

    def options(self) -> dict[str, Any]:
        return {**super().options(), "shift": list(self.shift), "scale": list(self.scale)}

    def sample(self, shape: torch.Size, generator: torch.Generator, device: torch.device) -> Params:
        n = shape[0]
        return {
            "applied": bernoulli(generator, self.p, (n,), device),
            "shift": uniform(generator, (n,), *self.shift, device),
            "scale": uniform(generator, (n,), *self.scale, device),
        }

    def apply(self, images: torch.Tensor, labels: Labels, params: Params) -> tuple[torch.Tensor, Labels]:
        applied = params["applied"]
        view = (-1, *([1] * (images.ndim - 1)))
        scale = torch.where(applied, params["scale"], 1.0).view(view).to(images.dtype)
        shift = torch.where(applied, params["shift"], 0.0).view(view).to(images.dtype)
        return images * scale + shift, labels
