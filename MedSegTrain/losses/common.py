"""What every loss shares: parameter checks, activation, target handling and region sums.

Conventions (``../shared/FORMULAS.md``): logits ``(N, K, *spatial)``; ``activation="softmax"``
(exclusive classes) or ``"sigmoid"`` (one binary problem per channel); targets are integer
labels ``(N, 1, *spatial)`` (softmax only) or soft/one-hot ``(N, K, *spatial)`` with values in
[0, 1] (mixup). Losses are computed in float32 (float64 stays float64) with autocast switched
off, so float16/bfloat16 autocast never reaches a log or a power.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from MedSegTrain.errors import MedSegError
from MedSegTrain.losses.region_sums import RegionSums

ACTIVATIONS = ("softmax", "sigmoid")
DEFAULT_SMOOTH = 1e-5


# --------------------------------------------------------------------------- parameter checks


def check_activation(loss_name: str, activation: str) -> str:
    """Return ``activation`` when it is ``softmax`` or ``sigmoid``; MedSegError otherwise."""
    if activation not in ACTIVATIONS:
        raise MedSegError(
            f"loss {loss_name!r}: activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}"
        )
    return activation


def check_number(
    loss_name: str,
    option: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """A finite real ``value`` in [low, high] (``(low, high]`` when ``low_open``), as float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MedSegError(f"loss {loss_name!r}: option {option} must be a finite number, got {value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        left = "(" if low_open else "["
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf)" if high is None else f"{high:g}]"
        raise MedSegError(f"loss {loss_name!r}: option {option} must lie in {left}{lo}, {hi}, got {value:g}")
    return value


def check_flag(loss_name: str, option: str, value: object) -> bool:
    """A real boolean (not 0/1 or a string, which usually signal a config typo)."""
    if not isinstance(value, bool):
        raise MedSegError(f"loss {loss_name!r}: option {option} must be true or false, got {value!r}")
    return value


def check_class_values(loss_name: str, option: str, value: object) -> float | tuple[float, ...]:
    """A non-negative scalar, or a non-empty sequence of them (one per class)."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) == 0:
            raise MedSegError(f"loss {loss_name!r}: option {option} is an empty list")
        return tuple(check_number(loss_name, option, v, low=0.0) for v in value)
    return check_number(loss_name, option, value, low=0.0)


def check_region_options(loss_name: str, batch: object, include_background: object, smooth: object) -> None:
    """The options every region term shares."""
    check_flag(loss_name, "batch", batch)
    check_flag(loss_name, "include_background", include_background)
    check_number(loss_name, "smooth", smooth, low=0.0)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Target:
    """A checked target: integer ``labels`` (N, 1, ...) or a float ``soft`` (N, K, ...) array."""

    labels: Tensor | None
    soft: Tensor | None
    num_classes: int


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; every other dtype is computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def check_logits(loss_name: str, logits: object) -> Tensor:
    """Logits as a floating tensor (N, K, *spatial) with at least one spatial axis."""
    if not isinstance(logits, Tensor):
        raise MedSegError(f"loss {loss_name!r}: logits must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise MedSegError(f"loss {loss_name!r}: logits must be floating point, got {logits.dtype}")
    if logits.ndim < 3:
        raise MedSegError(
            f"loss {loss_name!r}: logits must be (N, K, *spatial) with 1-3 spatial axes, "
            f"got shape {tuple(logits.shape)}"
        )
    return logits.to(compute_dtype(logits.dtype))


def make_target(loss_name: str, logits: Tensor, target: object, activation: str) -> Target:
    """Check ``target`` against ``logits`` and return it as labels or a soft array.

    Integer (or integral float) ``(N, 1, ...)`` or ``(N, ...)`` arrays are label maps when the
    logits have K > 1 channels under softmax; ``(N, K, ...)`` arrays are soft targets in [0, 1].
    """
    if not isinstance(target, Tensor):
        raise MedSegError(f"loss {loss_name!r}: target must be a torch.Tensor, got {type(target).__name__}")
    n, k = logits.shape[:2]
    spatial = tuple(logits.shape[2:])
    if target.device != logits.device:
        raise MedSegError(
            f"loss {loss_name!r}: target is on {target.device} but logits are on {logits.device}"
        )
    if target.ndim == logits.ndim - 1 and not target.is_floating_point():
        target = target.unsqueeze(1)
    if target.ndim != logits.ndim or target.shape[0] != n or tuple(target.shape[2:]) != spatial:
        raise MedSegError(
            f"loss {loss_name!r}: target shape {tuple(target.shape)} does not match logits shape "
            f"{tuple(logits.shape)} (expected (N, 1, *spatial) labels or (N, K, *spatial) soft targets)"
        )
    channels = target.shape[1]
    if channels == 1 and k > 1:
        if activation == "sigmoid":
            raise MedSegError(
                f"loss {loss_name!r}: with activation 'sigmoid' the target must have one channel per "
                f"output channel ({k}), got a single-channel label map; convert labels to regions first"
            )
        return Target(labels=_checked_labels(loss_name, target, k), soft=None, num_classes=k)
    if channels != k:
        raise MedSegError(
            f"loss {loss_name!r}: target has {channels} channels but logits have {k} "
            f"(expected 1 for labels or {k} for soft targets)"
        )
    soft = target.to(logits.dtype)
    if soft.numel():
        low, high = torch.aminmax(soft)
        if bool(low < 0) or bool(high > 1) or not bool(torch.isfinite(low) & torch.isfinite(high)):
            raise MedSegError(
                f"loss {loss_name!r}: soft target values must lie in [0, 1], "
                f"found [{float(low):g}, {float(high):g}]"
            )
    return Target(labels=None, soft=soft, num_classes=k)


def _checked_labels(loss_name: str, target: Tensor, num_classes: int) -> Tensor:
    if target.is_floating_point() and not bool(torch.equal(target, target.round())):
        raise MedSegError(f"loss {loss_name!r}: a single-channel label map must hold integers")
    labels = target.long()
    if labels.numel():
        low, high = torch.aminmax(labels)
        if int(low) < 0 or int(high) >= num_classes:
            raise MedSegError(
                f"loss {loss_name!r}: label values must lie in 0..{num_classes - 1} for {num_classes} "
                f"output channels, found {int(low)}..{int(high)}"
            )
    return labels


def labels_one_hot(labels: Tensor, num_classes: int, dtype: torch.dtype) -> Tensor:
    """One-hot (N, K, ...) of integer labels (N, 1, ...), built by comparison (no scatter)."""
    classes = torch.arange(num_classes, device=labels.device).view(1, -1, *([1] * (labels.ndim - 2)))
    return (labels == classes).to(dtype)


class Activated:
    """Log-probabilities of one logits tensor, each computed once on demand and shared by the terms
    of a compound loss (region terms activate inside ``region_sums``)."""

    def __init__(self, logits: Tensor, activation: str) -> None:
        self.logits = logits
        self.activation = activation

    @cached_property
    def log_p(self) -> Tensor:
        """log p, computed stably (log-softmax / log-sigmoid), finite for logits of +-100."""
        if self.activation == "softmax":
            return F.log_softmax(self.logits, dim=1)
        return F.logsigmoid(self.logits)

    @cached_property
    def log_1mp(self) -> Tensor:
        """log(1 - p) for sigmoid outputs: log-sigmoid of -x."""
        return F.logsigmoid(-self.logits)


@dataclass(frozen=True)
class Inputs:
    """Checked logits with their activation and target: what every loss term consumes."""

    act: Activated
    target: Target

    @cached_property
    def g(self) -> Tensor:
        """The target as float (N, K, ...), one-hot for label maps."""
        if self.target.soft is not None:
            return self.target.soft
        assert self.target.labels is not None
        return labels_one_hot(self.target.labels, self.target.num_classes, self.act.logits.dtype)


# --------------------------------------------------------------------------- region indices


def dice_index(sums: RegionSums, smooth: float) -> Tensor:
    """Soft Dice index per class: (2 sum pg + s) / (sum p + sum g + s)."""
    return (2 * sums.pg + smooth) / (sums.p + sums.g + smooth)


def tversky_index(sums: RegionSums, delta: float, smooth: float) -> Tensor:
    """Tversky index per class; ``delta`` weights false negatives sum (1-p)g."""
    false_neg = sums.g - sums.pg
    false_pos = sums.p - sums.pg
    return (sums.pg + smooth) / (sums.pg + delta * false_neg + (1 - delta) * false_pos + smooth)


# --------------------------------------------------------------------------- base module


class SegmentationLoss(nn.Module):
    """Base of every loss: checks logits and target, activates once, calls :meth:`compute`."""

    name = "loss"

    def __init__(self, activation: str = "softmax") -> None:
        super().__init__()
        self.activation = check_activation(self.name, activation)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """The scalar loss for logits (N, K, *spatial) and labels (N, 1, ...) or soft (N, K, ...)."""
        logits = check_logits(self.name, logits)
        with torch.autocast(device_type=logits.device.type, enabled=False):
            checked_target = make_target(self.name, logits, target, self.activation)
            inputs = Inputs(Activated(logits, self.activation), checked_target)
            self.check_inputs(inputs)
            return self.compute(inputs)

    def check_inputs(self, inputs: Inputs) -> None:
        """Raise MedSegError when the inputs do not suit this loss's options (hook)."""

    def compute(self, inputs: Inputs) -> Tensor:
        """The loss of checked, activated inputs."""
        raise NotImplementedError


def check_region_channels(loss_name: str, inputs: Inputs, include_background: bool) -> None:
    """include_background=False needs at least two channels."""
    if not include_background and inputs.target.num_classes < 2:
        raise MedSegError(
            f"loss {loss_name!r}: include_background=False leaves no class for a single-channel output"
        )
