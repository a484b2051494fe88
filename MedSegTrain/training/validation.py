"""Validation during training: sliding-window prediction on preprocessed cases, Dice per label.

Runs on the preprocessed grid (as nnU-Net does during training); the final, original-grid
evaluation belongs to ``medsegtrain evaluate``. Prediction uses MONAI's
``sliding_window_inference`` with Gaussian blending; 2D models run slice by slice. Dice follows
FORMULAS.md (both masks empty -> 1). Sums are all-reduced so every ``torchrun`` rank agrees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from MedSegTrain.training.distributed import DistContext, all_reduce_sum, local_indices
from MedSegTrain.training.loader import CachedCase


@torch.no_grad()
def predict_logits(
    model: torch.nn.Module,
    image: np.ndarray,
    patch: Sequence[int],
    mode: str,
    device: torch.device,
    overlap: float = 0.5,
    batch_size: int = 4,
    autocast_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Logits ``(K, z, y, x)`` (float32, on CPU) of a preprocessed image ``(C, z, y, x)``."""
    from monai.inferers import sliding_window_inference

    x = torch.from_numpy(np.array(image, dtype=np.float32)).to(device)  # a writable copy of the memmap
    if mode == "2d":
        x = x.permute(1, 0, 2, 3)  # slices become the batch
        roi = list(patch)[-2:]
    else:
        x = x[None]
        roi = list(patch)

    def forward(t: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            out = model(t)
        return out.float()

    out = sliding_window_inference(
        x, roi, batch_size, forward, overlap=overlap, mode="gaussian", padding_mode="constant", cval=0.0
    )
    out = out.permute(1, 0, 2, 3) if mode == "2d" else out[0]
    return out.float().cpu()


def dice_per_class(pred: torch.Tensor, ref: torch.Tensor, classes: Sequence[int]) -> list[float]:
    """Dice of each class index in ``classes`` between two index maps (both empty -> 1)."""
    out = []
    for k in classes:
        p, r = pred == k, ref == k
        tp = int((p & r).sum())
        denom = int(p.sum()) + int(r.sum())
        out.append(1.0 if denom == 0 else 2.0 * tp / denom)
    return out


def validate(
    model: torch.nn.Module,
    cases: Sequence[CachedCase],
    label_names: Mapping[int, str],
    patch: Sequence[int],
    mode: str,
    device: torch.device,
    ctx: DistContext,
    loss_fn: torch.nn.Module | None = None,
    overlap: float = 0.5,
    batch_size: int = 4,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """Mean Dice over cases, per foreground class and overall; mean validation loss per case.

    ``label_names`` maps class index (channel) -> name, background (index 0) excluded.
    """
    model.eval()
    classes = sorted(label_names)
    sums = torch.zeros(len(classes) + 2, dtype=torch.float64)  # per-class dice, loss, case count
    for i in local_indices(len(cases), ctx):
        case = cases[i]
        logits = predict_logits(model, case.image, patch, mode, device, overlap, batch_size, autocast_dtype)
        ref = torch.from_numpy(np.asarray(case.label, dtype=np.int64))
        sums[: len(classes)] += torch.tensor(
            dice_per_class(logits.argmax(0), ref, classes), dtype=torch.float64
        )
        if loss_fn is not None:
            sums[-2] += float(loss_fn(logits[None], ref[None, None]))
        sums[-1] += 1
    sums = all_reduce_sum(sums, ctx)
    n = max(float(sums[-1]), 1.0)
    per_class = {label_names[k]: float(sums[j]) / n for j, k in enumerate(classes)}
    metrics: dict[str, Any] = {
        "dice": float(np.mean(list(per_class.values()))) if per_class else float("nan"),
        "dice_per_label": per_class,
        "n_cases": int(sums[-1]),
    }
    if loss_fn is not None:
        metrics["loss"] = float(sums[-2]) / n
    return metrics
