"""Validation during training: the inference engine on preprocessed cases, Dice per output channel.

Runs on the preprocessed grid (as nnU-Net does during training); the final, original-grid
evaluation belongs to ``medsegtrain evaluate``. Prediction goes through the same code as
``medsegtrain predict`` (:func:`MedSegTrain.inference.runner.run_ensemble`: Gaussian-blended
sliding windows for 3D models, slice by slice for 2D ones), so a model is judged during training
exactly as it will later be used. Dice follows FORMULAS.md (both masks empty -> 1), per label
for softmax outputs and per region for sigmoid ones (B4). Sums are all-reduced so every
``torchrun`` rank agrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from MedSegTrain.training.distributed import DistContext, all_reduce_sum, local_indices
from MedSegTrain.training.loader import CachedCase
from MedSegTrain.training.targets import OutputPlan, dice_of_masks

LOGIT_CLAMP = 1e-6  # probabilities are kept inside [eps, 1 - eps] before taking logs


def precision_of(autocast_dtype: torch.dtype | None) -> str:
    """The inference runner's precision name for a training autocast dtype."""
    return {None: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}[autocast_dtype]


@torch.no_grad()
def predict_probabilities(
    models: Sequence[torch.nn.Module],
    image: np.ndarray,
    patch: Sequence[int],
    mode: str,
    device: torch.device,
    activation: str = "softmax",
    overlap: float = 0.5,
    batch_size: int = 4,
    autocast_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Mean probabilities ``(K, z, y, x)`` (float32, CPU) of ``models`` on an image ``(C, z, y, x)``.

    ``mode`` is the training patch mode or an inference mode (:mod:`MedSegTrain.bundle.modes`):
    ``3d`` slides ``patch`` windows, ``2d`` runs the 2D networks over every axial slice in windows
    of the patch's in-plane size.
    """
    from MedSegTrain.bundle.modes import SLICES2D, inference_mode
    from MedSegTrain.inference.members import SliceWise
    from MedSegTrain.inference.runner import run_ensemble
    from MedSegTrain.inference.sliding_window import plan_windows
    from MedSegTrain.inference.tta import TTAVariant

    x = torch.from_numpy(np.array(image, dtype=np.float32)).to(device)  # a writable copy of the memmap
    shape = tuple(x.shape[1:])
    mode = inference_mode(mode, "validation mode")
    if mode == SLICES2D:
        plan = plan_windows(shape, mode, tuple(patch)[-2:], overlap)
        members = [SliceWise(m) for m in models]
    else:
        plan = plan_windows(shape, mode, tuple(patch), overlap)
        members = list(models)
    for m in members:
        m.eval()
    result = run_ensemble(x, members, plan, [TTAVariant()], activation,  # type: ignore[arg-type]
                          batch_size=batch_size, precision=precision_of(autocast_dtype))  # type: ignore[arg-type]
    return result.mean.float().cpu()


def logits_from_probabilities(probabilities: torch.Tensor, activation: str) -> torch.Tensor:
    """Logits whose activation gives back ``probabilities`` (clamped away from 0 and 1).

    Softmax: ``log p`` (softmax is invariant to the normaliser); sigmoid: ``log(p / (1 - p))``.
    Lets the training loss score a blended prediction exactly as ``predict`` makes it.
    """
    p = probabilities.clamp(LOGIT_CLAMP, 1.0 - LOGIT_CLAMP)
    return p.log() if activation == "softmax" else torch.logit(p)


def validate(
    model: torch.nn.Module,
    cases: Sequence[CachedCase],
    output: OutputPlan,
    patch: Sequence[int],
    mode: str,
    device: torch.device,
    ctx: DistContext,
    loss_fn: torch.nn.Module | None = None,
    overlap: float = 0.5,
    batch_size: int = 4,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """Mean Dice over cases, per scored output channel and overall; mean validation loss per case."""
    model.eval()
    scored = output.scored_channels
    names = [output.channel_names[c] for c in scored]
    sums = torch.zeros(len(scored) + 2, dtype=torch.float64)  # per-channel dice, loss, case count
    for i in local_indices(len(cases), ctx):
        case = cases[i]
        prob = predict_probabilities([model], case.image, patch, mode, device, output.activation,
                                     overlap, batch_size, autocast_dtype)
        ref = torch.from_numpy(np.asarray(case.label, dtype=np.int64))
        sums[: len(scored)] += torch.tensor(
            dice_of_masks(output.predicted_masks(prob), output.reference_masks(ref)), dtype=torch.float64
        )
        if loss_fn is not None:
            target = output.encode(ref[None, None])
            sums[-2] += float(loss_fn(logits_from_probabilities(prob, output.activation)[None], target))
        sums[-1] += 1
    sums = all_reduce_sum(sums, ctx)
    n = max(float(sums[-1]), 1.0)
    per_channel = {name: float(sums[j]) / n for j, name in enumerate(names)}
    metrics: dict[str, Any] = {
        "dice": float(np.mean(list(per_channel.values()))) if per_channel else float("nan"),
        "dice_per_label": per_channel,
        "n_cases": int(sums[-1]),
    }
    if loss_fn is not None:
        metrics["loss"] = float(sums[-2]) / n
    return metrics
