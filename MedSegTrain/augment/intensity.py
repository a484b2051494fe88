"""Intensity augmentation of the images (masks pass through unchanged), batched in torch.

Formulas, per sample ``i`` and channel ``c`` (``x`` the image, all draws uniform):

* ``brightness`` (L5): ``x * m``, ``m ~ U(range)``, one factor per sample (or per channel).
* ``contrast`` (L5): ``(x - mean) * f + mean``, optionally clipped to the old [min, max].
* ``gamma`` (L5): ``((x - min) / (r + eps)) ** g * (r + eps) + min``, ``r = max - min``,
  ``eps = 1e-7``, statistics per sample and channel.
* ``gaussian_noise`` (B6 sd 0.1, L5, C4): ``x + sd * N(0, 1)``, ``sd ~ U(std)``.
* ``channel_rescale`` (B6): ``x_c * U(0.9, 1.1)`` per channel.
* ``channel_shift`` (B6): ``x_c + U(-0.1, 0.1)`` per channel.
* ``channel_drop`` (B6): one channel, chosen uniformly, set to zero.

For contrast and gamma, a range that straddles 1 is sampled below 1 half of the time and above
1 otherwise (as batchgenerators does), so shrinking and stretching are equally likely.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import MedSegError
from .base import Labels, Options, Params, Transform, applied_indices, put_back
from .randomness import bernoulli, integers, uniform


class _Factor(Transform):
    """Shared shape of transforms that draw one number per sample (or per sample and channel)."""

    default_range: tuple[float, float] = (1.0, 1.0)
    default_p = 0.15
    default_per_channel = False
    minimum: float | None = None
    straddle = False

    def __init__(
        self,
        p: float | None = None,
        bounds: tuple[float, float] | None = None,
        per_channel: bool | None = None,
    ) -> None:
        super().__init__(self.default_p if p is None else p)
        self.range = self.default_range if bounds is None else bounds
        self.per_channel = self.default_per_channel if per_channel is None else per_channel

    @classmethod
    def from_options(cls, options: Options) -> _Factor:
        return cls(
            p=options.probability(default=cls.default_p),
            bounds=options.interval("range", cls.default_range, minimum=cls.minimum),
            per_channel=options.flag("per_channel", cls.default_per_channel),
        )

    def options(self) -> dict[str, Any]:
        return {**super().options(), "range": list(self.range), "per_channel": self.per_channel}

    def sample(self, shape: torch.Size, generator: torch.Generator, device: torch.device) -> Params:
        draws_shape = (shape[0], shape[1] if self.per_channel else 1)
        low, high = self.range
        if self.straddle and low < 1.0 < high:
            below = uniform(generator, draws_shape, low, 1.0, device)
            above = uniform(generator, draws_shape, 1.0, high, device)
            factor = torch.where(bernoulli(generator, 0.5, draws_shape, device), below, above)
        else:
            factor = uniform(generator, draws_shape, low, high, device)
        return {"applied": bernoulli(generator, self.p, (shape[0],), device), "factor": factor}

    def _factor_view(self, params: Params, ndim: int, neutral: float) -> torch.Tensor:
        """Drawn factors shaped (N, C or 1, 1, ...), ``neutral`` for samples left alone."""
        factor = torch.where(params["applied"].view(-1, 1), params["factor"], neutral)
        return factor.view(*factor.shape, *([1] * (ndim - 2)))


class Brightness(_Factor):
    """Multiplicative brightness (L5): ``x * m``."""

    name = "brightness"
    default_range = (0.75, 1.25)

    def apply(self, images: torch.Tensor, labels: Labels, params: Params) -> tuple[torch.Tensor, Labels]:
        return images * self._factor_view(params, images.ndim, 1.0).to(images.dtype), labels


class ChannelRescale(_Factor):
    """Per-channel rescaling (B6): ``x_c * U(0.9, 1.1)``."""

    name = "channel_rescale"
    default_range = (0.9, 1.1)
    default_p = 0.5
    default_per_channel = True

    def apply(self, images: torch.Tensor, labels: Labels, params: Params) -> tuple[torch.Tensor, Labels]:
        return images * self._factor_view(params, images.ndim, 1.0).to(images.dtype), labels


class ChannelShift(_Factor):
    """Per-channel additive intensity shift (B6): ``x_c + U(-0.1, 0.1)``."""

    name = "channel_shift"
    default_range = (-0.1, 0.1)
    default_p = 0.5
    default_per_channel = True

    def apply(self, images: torch.Tensor, labels: Labels, params: Params) -> tuple[torch.Tensor, Labels]:
        return images + self._factor_view(params, images.ndim, 0.0).to(images.dtype), labels


class Contrast(_Factor):
    """Contrast about the mean (L5); ``preserve_range`` clips to the sample's old [min, max]."""

    name = "contrast"
    default_range = (0.75, 1.25)
    default_per_channel = True
    minimum = 0.0
    straddle = True

    def __init__(
        self,
        p: float | None = None,
        bounds: tuple[float, float] | None = None,
        per_channel: bool | None = None,
        preserve_range: bool = True,
    ) -> None:
        super().__init__(p, bounds, per_channel)
        self.preserve_range = preserve_range

    @classmethod
    def from_options(cls, options: Options) -> Contrast:
        return cls(
            p=options.probability(default=cls.default_p),
            bounds=options.interval("range", cls.default_range, minimum=0.0),
            per_channel=options.flag("per_channel", cls.default_per_channel),
            preserve_range=options.flag("preserve_range", True),
        )

    def options(self) -> dict[str, Any]:
        return {**super().options(), "preserve_range": self.preserve_range}

    def apply(self, images: torch.Tensor, labels: Labels, params: Params) -> tuple[torch.Tensor, Labels]:
        index = applied_indices(params["applied"])
        if index is not None and index.numel() == 0:
            return images, labels
        chosen = images if index is None else images[index]
        factor = params["factor"] if index is None else params["factor"][index]
        factor = factor.view(*factor.shape, *([1] * (images.ndim - 2))).to(images.dtype)
        flat = chosen.flatten(2)
        mean = flat.mean(dim=2).view(*flat.shape[:2], *([1] * (images.ndim - 2)))
        result = (chosen - mean) * factor + mean
        if self.preserve_range:
            low, high = _channel_extrema(chosen)
            result = torch.maximum(torch.minimum(result, high), low)
        return put_back(images, result, index), labels


class Gamma(_Factor):
    """Gamma on the sample's range (L5), statistics per sample and channel."""

    name = "gamma"
    default_range = (0.7, 1.5)
    default_per_channel = False
    minimum = 1e-3
    straddle = True
    epsilon = 1e-7

    def apply(self, images: torch.Tensor, labels: Labels, params: Params) -> tuple[torch.Tensor, Labels]:
        index = applied_indices(params["applied"])
        if index is not None and index.numel() == 0:
            return images, labels
        chosen = images if index is None else images[index]
        factor = params["factor"] if index is None else params["factor"][index]
        gamma = factor.view(*factor.shape, *([1] * (images.ndim - 2))).to(images.dtype)
        low, high = _channel_extrema(chosen)
        span = high - low + self.epsilon
        result = ((chosen - low) / span).clamp_min(0.0) ** gamma * span + low
        return put_back(images, result, index), labels


class GaussianNoise(Transform):
    """Additive Gaussian noise ``x + sd * N(0, 1)`` (B6: sd 0.1); ``std`` a number or a range."""

    name = "gaussian_noise"

    def __init__(self, p: float = 0.5, std: tuple[float, float] = (0.1, 0.1)) -> None:
        super().__init__(p)
        self.std = std

    @classmethod
    def from_options(cls, options: Options) -> GaussianNoise:
        return cls(p=options.probability(), std=options.interval("std", (0.1, 0.1), minimum=0.0))

    def options(self) -> dict[str, Any]:
        return {**super().options(), "std": list(self.std)}

    def sample(self, shape: torch.Size, generator: torch.Generator, device: torch.device) -> Params:
        n = shape[0]
        return {
            "applied": bernoulli(generator, self.p, (n,), device),
            "std": uniform(generator, (n,), *self.std, device),
            # The noise itself comes from a generator on the data's device seeded with this,
            # so it is drawn where the batch lives and can be replayed from the record.
            "seed": integers(generator, 0, 2**62, (1,), torch.device("cpu")),
        }

    def apply(self, images: torch.Tensor, labels: Labels, params: Params) -> tuple[torch.Tensor, Labels]:
        index = applied_indices(params["applied"])
        if index is not None and index.numel() == 0:
            return images, labels
        noise_source = torch.Generator(device=images.device).manual_seed(int(params["seed"][0]))
        count = images.shape[0] if index is None else index.numel()
        noise = torch.randn(
            (count, *images.shape[1:]), generator=noise_source, device=images.device, dtype=images.dtype
        )
        std = params["std"] if index is None else params["std"][index]
        noise = noise * std.view(-1, *([1] * (images.ndim - 1))).to(images.dtype)
        if index is None:
            return images + noise, labels
        return images.index_add(0, index.to(images.device), noise), labels


class ChannelDrop(Transform):
    """Set one input channel, chosen uniformly, to zero (B6); needs at least two channels."""

    name = "channel_drop"

    def __init__(self, p: float = 0.16) -> None:
        super().__init__(p)

    @classmethod
    def from_options(cls, options: Options) -> ChannelDrop:
        return cls(p=options.probability(default=0.16))

    def sample(self, shape: torch.Size, generator: torch.Generator, device: torch.device) -> Params:
        if shape[1] < 2:
            raise MedSegError(
                f"augmentation channel_drop needs at least 2 input channels, the batch has {shape[1]}"
            )
        return {
            "applied": bernoulli(generator, self.p, (shape[0],), device),
            "channel": integers(generator, 0, shape[1], (shape[0],), device),
        }

    def apply(self, images: torch.Tensor, labels: Labels, params: Params) -> tuple[torch.Tensor, Labels]:
        channels = torch.arange(images.shape[1], device=images.device)
        dropped = params["applied"].view(-1, 1) & (channels.view(1, -1) == params["channel"].view(-1, 1))
        keep = (~dropped).to(images.dtype).view(*dropped.shape, *([1] * (images.ndim - 2)))
        return images * keep, labels


def _channel_extrema(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = images.flatten(2)
    view = (*flat.shape[:2], *([1] * (images.ndim - 2)))
    return flat.amin(dim=2).view(view), flat.amax(dim=2).view(view)
