"""Voxel-wise losses: cross entropy (``ce``), top-k cross entropy (``topk_ce``) and ``focal``.

Each is the mean over all voxels of the batch of a per-voxel sum over classes (softmax), or the
mean over voxels and channels of a per-channel binary term (sigmoid) — ``FORMULAS.md``.
Paper IDs: L1 (CE, focal; Yeung et al.), X9 (top-k CE; Isaksson et al.), C6 (CE term).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from MedSegTrain.errors import MedSegError
from MedSegTrain.losses.common import (
    Inputs,
    SegmentationLoss,
    check_class_values,
    check_number,
)


def cross_entropy(inputs: Inputs) -> Tensor:
    """-mean_v sum_c g log p (softmax); -mean_{v,c} [g log p + (1-g) log(1-p)] (sigmoid)."""
    logits, target = inputs.act.logits, inputs.target
    if inputs.act.activation == "sigmoid":
        return F.binary_cross_entropy_with_logits(logits, inputs.g)
    if target.labels is not None:
        return F.cross_entropy(logits, target.labels[:, 0])
    return F.cross_entropy(logits, target.soft)


def cross_entropy_map(inputs: Inputs) -> Tensor:
    """Per-voxel cross entropy (N, *spatial): summed over classes (softmax), mean over channels (sigmoid)."""
    logits, target = inputs.act.logits, inputs.target
    if inputs.act.activation == "sigmoid":
        return F.binary_cross_entropy_with_logits(logits, inputs.g, reduction="none").mean(dim=1)
    if target.labels is not None:
        return F.cross_entropy(logits, target.labels[:, 0], reduction="none")
    return F.cross_entropy(logits, target.soft, reduction="none")


def _modulation(one_minus: Tensor, gamma: float) -> Tensor:
    """(1 - p)^gamma with a finite gradient where 1 - p = 0 (clamped at the smallest normal)."""
    if gamma == 0:
        return torch.ones_like(one_minus)
    if gamma < 1:
        one_minus = one_minus.clamp_min(torch.finfo(one_minus.dtype).tiny)
    return one_minus.pow(gamma)


def focal_term(inputs: Inputs, alpha: float | tuple[float, ...], gamma: float) -> Tensor:
    """The focal loss of ``FORMULAS.md`` (a scalar), shared by ``focal`` and ``mixed_focal``.

    Softmax: -mean_v sum_c alpha_c (1-p_c)^gamma g_c log p_c.
    Sigmoid (each channel a two-class problem {c, not c} with the same alpha_c on both terms):
    -mean_{v,c} alpha_c [(1-p)^gamma g log p + p^gamma (1-g) log(1-p)].
    """
    act, target = inputs.act, inputs.target
    shape = (1, -1, *([1] * (act.logits.ndim - 2)))
    alpha_c = alpha
    if not isinstance(alpha, float):
        alpha_c = torch.tensor(alpha, dtype=act.logits.dtype, device=act.logits.device).view(shape)
    if act.activation == "sigmoid":
        g = inputs.g
        positive = torch.exp(gamma * act.log_1mp) * g * act.log_p
        negative = torch.exp(gamma * act.log_p) * (1 - g) * act.log_1mp
        return -(alpha_c * (positive + negative)).mean()
    if target.labels is not None:
        log_pt = act.log_p.gather(1, target.labels)
        per_voxel = _modulation(-torch.expm1(log_pt), gamma) * log_pt
        if not isinstance(alpha_c, float):
            per_voxel = per_voxel * alpha_c.flatten()[target.labels]
        else:
            per_voxel = per_voxel * alpha_c
        return -per_voxel.mean()
    log_p = act.log_p
    per_class = _modulation(-torch.expm1(log_p), gamma) * inputs.g * log_p
    return -(alpha_c * per_class).sum(dim=1).mean()


class CrossEntropyLoss(SegmentationLoss):
    """``ce`` (L1, C6): -mean_v sum_c g_c log p_c; sigmoid: mean binary cross entropy per channel.

    Soft targets: minimum at p = g (cross entropy is a proper scoring rule; Gibbs' inequality).
    """

    name = "ce"

    def compute(self, inputs: Inputs) -> Tensor:
        return cross_entropy(inputs)


class TopKCrossEntropyLoss(SegmentationLoss):
    """``topk_ce`` (X9): per sample, the mean of the k largest per-voxel cross entropies; mean over samples.

    k = max(1, round(k_fraction * voxels)) per sample (``k_fraction`` 0.05), or an absolute ``k``
    (the mixup paper's 5 % of the median image size); k never exceeds the voxels of a sample.
    The k largest are found with ``torch.topk`` on a per-sample view (no full sort). The
    per-voxel value sums over classes (softmax) or averages over channels (sigmoid), so
    ``k_fraction=1`` gives ``ce`` exactly. Soft targets: minimum at p = g (every voxel's cross
    entropy is minimal there and the mean of the k largest is monotone in each of them).
    """

    name = "topk_ce"

    def __init__(
        self, activation: str = "softmax", k_fraction: float | None = None, k: int | None = None
    ) -> None:
        super().__init__(activation)
        if k_fraction is not None and k is not None:
            raise MedSegError("loss 'topk_ce': give either option k_fraction or option k, not both")
        if k is not None:
            if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                raise MedSegError(f"loss 'topk_ce': option k must be a positive integer, got {k!r}")
        elif k_fraction is None:
            k_fraction = 0.05
        self.k = k
        self.k_fraction = (
            None
            if k_fraction is None
            else check_number(self.name, "k_fraction", k_fraction, low=0.0, high=1.0, low_open=True)
        )

    def voxels_kept(self, voxels: int) -> int:
        """k for a sample of ``voxels`` voxels."""
        k = self.k if self.k is not None else round(self.k_fraction * voxels)
        return min(max(1, k), voxels)

    def compute(self, inputs: Inputs) -> Tensor:
        per_voxel = cross_entropy_map(inputs).flatten(start_dim=1)
        k = self.voxels_kept(per_voxel.shape[1])
        return torch.topk(per_voxel, k, dim=1, sorted=False).values.mean()


class FocalLoss(SegmentationLoss):
    """``focal`` (L1): -mean_v sum_c alpha_c (1-p_c)^gamma g_c log p_c, ``gamma`` 2, ``alpha`` 0.25.

    ``alpha`` is one weight per class (a list of K values) or a scalar applied to every class (the
    authors' code convention). ``gamma=0, alpha=1`` is ``ce``. Sigmoid mode: each channel is a
    binary problem and alpha_c weights both its terms (see :func:`focal_term`); this equals MONAI's
    sigmoid FocalLoss for binary targets when alpha is 1 (MONAI alpha None) or 0.5.
    Soft targets: minimum NOT at p = g for gamma > 0 (the modulating factor pushes p towards
    the nearer extreme; focal loss is not a proper scoring rule).
    """

    name = "focal"

    def __init__(
        self, activation: str = "softmax", alpha: float | list[float] = 0.25, gamma: float = 2.0
    ) -> None:
        super().__init__(activation)
        self.alpha = check_class_values(self.name, "alpha", alpha)
        self.gamma = check_number(self.name, "gamma", gamma, low=0.0)

    def check_inputs(self, inputs: Inputs) -> None:
        check_alpha_length(self.name, self.alpha, inputs.target.num_classes)

    def compute(self, inputs: Inputs) -> Tensor:
        return focal_term(inputs, self.alpha, self.gamma)


def check_alpha_length(loss_name: str, alpha: float | tuple[float, ...], num_classes: int) -> None:
    """A per-class alpha list must have one value per output channel."""
    if isinstance(alpha, tuple) and len(alpha) != num_classes:
        raise MedSegError(
            f"loss {loss_name!r}: option alpha has {len(alpha)} values but the logits have "
            f"{num_classes} channels (give one per class, or a scalar)"
        )
