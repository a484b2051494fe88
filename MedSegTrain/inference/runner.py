"""Run members x TTA variants over one window plan, accumulating blended probabilities.

The speed and memory design (members x variants must cost time, never memory):

* one window grid for every member and variant (the plan is computed once);
* each window is cut once per member, its variants are made on the window (not on the whole volume),
  batched together through each member, inverted, and averaged *in the window*;
* one whole-volume accumulator of blended probabilities (plus one for the second moment when
  the variance is wanted) and one weight map — memory grows with the volume, never with
  members x variants;
* members run one after another over the whole grid, and a member with a ``release()`` method
  (an OpenVINO compile, :mod:`MedSegTrain.inference.backends`) frees its compiled graph and
  buffers after its pass, so only one is held at a time;
* ``torch.inference_mode``; fp16 autocast only on CUDA when asked; channels-last optional.

Averaging probabilities per window and then blending is exactly the blend of the per-member,
per-variant blended maps (both are linear), so the result equals the naive loop whenever the
window grid is symmetric under the variants (e.g. a 256x256x64 volume in 128x128x64 windows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from MedSegTrain.errors import MedSegError
from MedSegTrain.inference.sliding_window import WindowPlan
from MedSegTrain.inference.tta import TTAVariant

Activation = Literal["softmax", "sigmoid"]
Precision = Literal["float32", "float16", "bfloat16"]
Average = Literal["probabilities", "logits"]


@dataclass
class EnsembleOutput:
    """Blended mean probabilities ``(K, z, y, x)`` and, if asked, the blended mean of squares."""

    mean: torch.Tensor
    second_moment: torch.Tensor | None
    n_predictions: int

    def variance(self) -> torch.Tensor:
        """Per-voxel, per-channel variance across members x variants (``E[p²] - E[p]²``)."""
        if self.second_moment is None:
            raise ValueError("the second moment was not accumulated (pass second_moment=True)")
        return (self.second_moment - self.mean.square()).clamp_min_(0.0)


def activate(logits: torch.Tensor, activation: Activation) -> torch.Tensor:
    """Probabilities from logits along the channel axis (dim 1)."""
    if activation == "softmax":
        return torch.softmax(logits.float(), dim=1)
    if activation == "sigmoid":
        return torch.sigmoid(logits.float())
    raise MedSegError(f"output activation must be 'softmax' or 'sigmoid', got {activation!r}")


def run_ensemble(image: torch.Tensor, members: Sequence[nn.Module], plan: WindowPlan,
                 variants: Sequence[TTAVariant], activation: Activation, *, batch_size: int = 8,
                 second_moment: bool = False, precision: Precision = "float32",
                 channels_last: bool = False, average: Average = "probabilities",
                 accumulate: Literal["float32", "float16"] = "float32",
                 on_step: Callable[[int], None] | None = None) -> EnsembleOutput:
    """Mean probabilities of ``members`` x ``variants`` over ``image`` ``(C, z, y, x)``.

    ``batch_size`` is the number of (window, variant) samples per forward call. ``on_step`` is
    called with 1 after each member has processed a group of windows
    (:func:`count_steps` gives the total). Members return logits ``(N, K, z, y, x)`` (a list or
    tuple from deep supervision: the first, full-resolution element).
    ``average="logits"`` blends the logits and activates once at the end (nnU-Net v2's
    predictor does this); the default blends probabilities. ``accumulate="float16"`` halves the
    whole-volume accumulators (the memory guard of ``predict --max-memory``).
    """
    if image.ndim != 4:
        raise MedSegError(f"inference needs a (C, z, y, x) image, got shape {tuple(image.shape)}")
    if tuple(image.shape[1:]) != plan.shape:
        raise MedSegError(f"image shape {tuple(image.shape[1:])} does not match the window plan {plan.shape}")
    if not members or not variants:
        raise MedSegError("inference needs at least one member and one TTA variant")
    if average not in ("probabilities", "logits"):
        raise MedSegError(f"average must be 'probabilities' or 'logits', got {average!r}")
    if average == "logits" and second_moment:
        raise MedSegError("the variance across predictions needs average='probabilities'")
    if accumulate not in ("float32", "float16"):
        raise MedSegError(f"accumulate must be 'float32' or 'float16', got {accumulate!r}")
    store = torch.float16 if accumulate == "float16" else torch.float32
    device = image.device
    padded = F.pad(image[None].float(), plan.pad_torch())[0] if any(sum(p) for p in plan.padding) \
        else image.float()
    importance = plan.importance(device)
    weights = torch.zeros(plan.padded_shape, dtype=store, device=device)
    for window in plan.windows:
        weights[window] += importance
    n_predictions = len(members) * len(variants)
    per_group = max(1, batch_size // len(variants))
    accumulator: torch.Tensor | None = None
    squares: torch.Tensor | None = None
    scale = importance / n_predictions
    with torch.inference_mode():
        for member in members:  # member by member: one compiled member alive at a time (see release)
            for start in range(0, len(plan.windows), per_group):
                group = plan.windows[start:start + per_group]
                crops = torch.stack([padded[(slice(None), *w)] for w in group])
                total: torch.Tensor | None = None
                total_sq: torch.Tensor | None = None
                for probs in _member_variants(member, crops, variants,
                                              activation if average == "probabilities" else None,
                                              batch_size, precision, channels_last):
                    if total is None:
                        total = probs.contiguous()
                        total_sq = probs.square() if second_moment else None
                    else:
                        total.add_(probs)
                        if total_sq is not None:
                            total_sq.add_(probs.square())
                if on_step is not None:
                    on_step(1)
                assert total is not None
                if accumulator is None:
                    accumulator = torch.zeros((total.shape[1], *plan.padded_shape), dtype=store,
                                              device=device)
                    squares = torch.zeros_like(accumulator) if second_moment else None
                for i, window in enumerate(group):
                    accumulator[(slice(None), *window)] += (total[i] * scale).to(store)
                    if squares is not None and total_sq is not None:
                        squares[(slice(None), *window)] += (total_sq[i] * scale).to(store)
            release = getattr(member, "release", None)
            if callable(release):
                release()
    assert accumulator is not None
    crop = (slice(None), *plan.crop)
    mean = (accumulator.float() / weights)[crop]
    if average == "logits":
        mean = activate(mean[None], activation)[0]
    second = (squares.float() / weights)[crop] if squares is not None else None
    return EnsembleOutput(mean.contiguous(), None if second is None else second.contiguous(), n_predictions)


def count_steps(plan: WindowPlan, n_members: int, n_variants: int, batch_size: int = 8) -> int:
    """How many times :func:`run_ensemble` calls ``on_step`` for this plan."""
    per_group = max(1, batch_size // n_variants)
    return -(-len(plan.windows) // per_group) * n_members


def _member_variants(member: nn.Module, crops: torch.Tensor, variants: Sequence[TTAVariant],
                     activation: Activation | None, batch_size: int, precision: Precision,
                     channels_last: bool):
    """Yield each variant's probabilities (logits when ``activation`` is None) for ``crops``,
    inverted back to the crops' frame.

    Variants with the same output shape are batched together, ``batch_size`` samples a call.
    """
    n = crops.shape[0]
    by_shape: dict[bool, list[TTAVariant]] = {}
    for variant in variants:
        by_shape.setdefault(variant.swaps_plane, []).append(variant)
    for same_shape in by_shape.values():
        chunk = max(1, batch_size // n)
        for start in range(0, len(same_shape), chunk):
            batch_variants = same_shape[start:start + chunk]
            batch = torch.cat([v.forward(crops) for v in batch_variants])
            logits = _forward(member, batch, precision, channels_last)
            probs = logits.float() if activation is None else activate(logits, activation)
            for i, variant in enumerate(batch_variants):
                yield variant.inverse(probs[i * n:(i + 1) * n])


def _forward(member: nn.Module, batch: torch.Tensor, precision: Precision,
             channels_last: bool) -> torch.Tensor:
    if channels_last and batch.ndim == 5:
        batch = batch.contiguous(memory_format=torch.channels_last_3d)
    if precision == "float32":
        out = member(batch)
    else:
        dtype = torch.float16 if precision == "float16" else torch.bfloat16
        with torch.autocast(device_type=batch.device.type, dtype=dtype):
            out = member(batch)
    if isinstance(out, (list, tuple)):
        out = out[0]
    if not isinstance(out, torch.Tensor) or out.ndim != batch.ndim or out.shape[0] != batch.shape[0] \
            or tuple(out.shape[2:]) != tuple(batch.shape[2:]):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise MedSegError(f"the network returned {got} for an input of shape {tuple(batch.shape)}; "
                          "expected logits (N, K, same spatial size)")
    return out
