"""Deep supervision (B3): one loss over several output heads, the target resized to each head.

Henry et al. sum the heads' losses unweighted (``reduction="sum"``, the paper); their code
averages them (``reduction="mean"``). Label maps are resized by nearest neighbour (centre
aligned, ``nearest-exact``); soft targets by area averaging when a head is smaller (so soft
one-hot targets still sum to 1) and (bi/tri)linear interpolation when it is larger.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from MedSegTrain.errors import MedSegError
from MedSegTrain.losses.common import check_number

REDUCTIONS = ("sum", "mean")
_LINEAR_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def resize_target(target: Tensor, size: Sequence[int], num_channels: int) -> Tensor:
    """``target`` resized to the spatial ``size`` of a head with ``num_channels`` outputs.

    Label maps (integer dtype, or one channel for a multi-channel head) use nearest neighbour;
    soft targets use area averaging (shrinking) or linear interpolation (growing).
    """
    size = tuple(int(s) for s in size)
    if tuple(target.shape[2:]) == size:
        return target
    is_label_map = not target.is_floating_point() or (target.shape[1] == 1 and num_channels > 1)
    if is_label_map:
        resized = F.interpolate(target.to(torch.float32), size=size, mode="nearest-exact")
        return resized.to(target.dtype)
    shrinking = all(new <= old for new, old in zip(size, target.shape[2:], strict=True))
    if shrinking:
        return F.interpolate(target, size=size, mode="area")
    mode = _LINEAR_MODES.get(len(size))
    if mode is None:
        raise MedSegError(f"deep supervision: cannot interpolate a {len(size)}-D soft target")
    return F.interpolate(target, size=size, mode=mode, align_corners=False)


class DeepSupervisionLoss(nn.Module):
    """``loss`` summed (or averaged) over heads: sum_i w_i loss(logits_i, target resized to head i).

    ``logits`` is a list/tuple of heads, full resolution first (a single tensor is one head).
    ``weights`` default to 1 per head; ``reduction="mean"`` divides by the sum of the weights
    (the plain mean for unit weights). A head that already has the target's size uses the
    target as is.
    """

    def __init__(
        self, loss: nn.Module, weights: Sequence[float] | None = None, reduction: str = "sum"
    ) -> None:
        super().__init__()
        if not callable(loss):
            raise MedSegError(f"deep supervision: loss must be a loss module, got {type(loss).__name__}")
        if reduction not in REDUCTIONS:
            raise MedSegError(
                "deep supervision: option reduction must be one of "
                f"{', '.join(REDUCTIONS)}, got {reduction!r}"
            )
        if weights is not None:
            if isinstance(weights, str) or not isinstance(weights, Sequence) or len(weights) == 0:
                raise MedSegError(
                    f"deep supervision: option weights must be a list of numbers, got {weights!r}"
                )
            weights = tuple(check_number("deep supervision", "weights", w, low=0.0) for w in weights)
            if sum(weights) <= 0:
                raise MedSegError("deep supervision: option weights must not all be zero")
        self.loss = loss
        self.weights = weights
        self.reduction = reduction

    def forward(self, logits: Tensor | Sequence[Tensor], target: Tensor) -> Tensor:
        """The combined loss of every head against ``target`` (at full resolution)."""
        heads = [logits] if isinstance(logits, Tensor) else list(logits)
        if not heads:
            raise MedSegError("deep supervision: got no output heads")
        weights = self.weights if self.weights is not None else (1.0,) * len(heads)
        if len(weights) != len(heads):
            raise MedSegError(f"deep supervision: {len(weights)} weights given for {len(heads)} output heads")
        total: Tensor | None = None
        for head, weight in zip(heads, weights, strict=True):
            if weight == 0:
                continue
            if not isinstance(head, Tensor) or head.ndim != target.ndim:
                raise MedSegError(
                    "deep supervision: every head must be a tensor (N, K, *spatial) with the "
                    f"target's number of axes ({target.ndim})"
                )
            head_target = resize_target(target, head.shape[2:], head.shape[1])
            term = weight * self.loss(head, head_target)
            total = term if total is None else total + term
        assert total is not None
        if self.reduction == "mean":
            total = total / sum(weights)
        return total
