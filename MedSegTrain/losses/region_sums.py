"""Per-class region sums (sum pg, sum p, sum g, sum p^2, sum g^2) with a hand-written backward.

Every region index of ``FORMULAS.md`` is a function of these five sums, so its gradient with
respect to p is ``A_c + B_c g + E_c p`` for per-class scalars A, B, E (the upstream gradients of
sum p, sum pg and sum p^2). This module computes the sums without a one-hot array (label maps
are gathered, then index-added per class) and writes the gradient with respect to the logits in
one output array, through the softmax/sigmoid Jacobian, instead of the chain of full-size
temporaries that autograd builds. The result is the same function (tests: numpy reference,
MONAI, ``gradcheck``); the benchmark in ``Testing/benchmarks/bench_losses.py`` measures the gain.
First-order gradients only (no double backward).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


@dataclass(frozen=True)
class RegionSums:
    """Per-class sums over voxels (and over the batch when ``batch``): shapes (K',) or (N, K')."""

    pg: Tensor
    p: Tensor
    g: Tensor
    p2: Tensor | None
    g2: Tensor | None


def activate(logits: Tensor, activation: str) -> Tensor:
    """p = softmax over channels or sigmoid per channel."""
    return torch.softmax(logits, dim=1) if activation == "softmax" else torch.sigmoid(logits)


_CHUNK = 512  # voxels summed in one float32 run (error grows with the run); runs are added in float64


def _chunks(v: int) -> list[tuple[int, int, int]]:
    """(start, stop, width) runs covering 0..v: equal runs of a divisor of v near ``_CHUNK`` (views,
    no copies), or ``_CHUNK``-runs plus one tail when v has no such divisor."""
    width = next(d for d in range(min(v, _CHUNK), 0, -1) if v % d == 0)
    if width >= _CHUNK // 8 or width == v:
        return [(0, v, width)]
    whole = v - v % _CHUNK
    return [(0, whole, _CHUNK), (whole, v, v - whole)]


def _per_sample_dot(a: Tensor, b: Tensor) -> Tensor:
    """sum over voxels of a * b per (sample, class): (N, K, V) x (N, K, V) -> (N, K).

    Batched matrix products over runs of voxels, no full-size temporary; the run partials are
    added in float64 (a single float32 dot over millions of voxels drifts by ~1e-3 relative).
    """
    n, k, v = a.shape
    total = torch.zeros(n, k, dtype=torch.float64, device=a.device)
    for start, stop, width in _chunks(v):
        rows_a = a[..., start:stop].reshape(-1, 1, width)
        rows_b = b[..., start:stop].reshape(-1, width, 1)
        total += torch.bmm(rows_a, rows_b).view(n, k, -1).sum(dim=-1, dtype=torch.float64)
    return total.to(a.dtype)


def _class_sums(values: Tensor, labels: Tensor, num_classes: int) -> Tensor:
    """sum_v values[n, v] [labels[n, v] = c] as (N, K), without a one-hot array.

    ``scatter_add_`` per run of voxels into its own K partial sums (short sequential runs, little
    contention on GPUs), partials added in float64: as accurate as a pairwise reduction (one
    ``index_add_`` over millions of voxels drifts by ~1e-5 relative in float32).
    """
    n, v = values.shape
    total = torch.zeros(n, num_classes, dtype=torch.float64, device=values.device)
    for start, stop, width in _chunks(v):
        rows_values = values[:, start:stop].reshape(-1, width)
        rows_labels = labels[:, start:stop].reshape(-1, width)
        partial = torch.zeros(rows_values.shape[0], num_classes, dtype=values.dtype, device=values.device)
        partial.scatter_add_(1, rows_labels, rows_values)
        total += partial.view(n, -1, num_classes).sum(dim=1, dtype=torch.float64)
    return total.to(values.dtype)


def _label_sums(p: Tensor, labels: Tensor, num_classes: int) -> tuple[Tensor, Tensor, Tensor]:
    """(sum_v p_c [l = c], #voxels of class c) per sample (N, K), and p at each voxel's label (N, V)."""
    p_at_label = p.gather(1, labels.unsqueeze(1)).squeeze(1)
    ones = torch.ones(1, 1, dtype=p.dtype, device=p.device).expand_as(p_at_label)
    pg = _class_sums(p_at_label, labels, num_classes)
    counts = _class_sums(ones, labels, num_classes)
    return pg, counts, p_at_label


class _RegionSumsFunction(torch.autograd.Function):
    """Forward: the five region sums per (sample, class); backward: the gradient w.r.t. the logits."""

    @staticmethod
    def forward(ctx, logits, labels, soft, activation, batch, first, squares):  # type: ignore[override]
        n, k = logits.shape[:2]
        p = activate(logits, activation).reshape(n, k, -1)
        if labels is not None:
            flat_labels = labels.reshape(n, -1)
            pg, g_sum, p_at_label = _label_sums(p, flat_labels, k)
            g2_sum = g_sum.clone()  # g in {0, 1}
            ctx.save_for_backward(p, flat_labels, p_at_label)
        else:
            g = soft.reshape(n, k, -1).contiguous()
            pg = _per_sample_dot(p, g)
            g_sum = g.sum(dim=-1)
            g2_sum = _per_sample_dot(g, g) if squares else None
            ctx.save_for_backward(p, g)
        p_sum = p.sum(dim=-1)
        sums = [pg, p_sum, g_sum]
        if squares:
            sums += [_per_sample_dot(p, p), g2_sum]
        if batch:
            sums = [s.sum(dim=0) for s in sums]
        sums = [s[..., first:].clone() for s in sums]
        if not squares:
            sums += [p.new_empty(0), p.new_empty(0)]
        ctx.shape, ctx.activation, ctx.batch, ctx.first = logits.shape, activation, batch, first
        ctx.from_labels = labels is not None
        constants = [sums[2], sums[4]] if squares else [sums[2], sums[3], sums[4]]
        ctx.mark_non_differentiable(*constants)
        ctx.set_materialize_grads(False)
        return tuple(sums)

    @staticmethod
    @once_differentiable
    def backward(ctx, d_pg, d_p, _d_g, d_p2, _d_g2):  # type: ignore[override]
        p = ctx.saved_tensors[0]
        n, k = p.shape[:2]

        def coefficient(grad: Tensor | None, scale: float = 1.0) -> Tensor | None:
            """An upstream per-class gradient as (N or 1, K, 1), zero for left-out channel 0."""
            if grad is None:
                return None
            full = torch.zeros((k,) if ctx.batch else (n, k), dtype=p.dtype, device=p.device)
            full[..., ctx.first :] = grad * scale
            return full.view(1, k, 1) if ctx.batch else full.view(n, k, 1)

        a, b, e = coefficient(d_p), coefficient(d_pg), coefficient(d_p2, 2.0)
        zero = torch.zeros((1, k, 1), dtype=p.dtype, device=p.device)
        a = zero if a is None else a
        backward_for = _grad_from_labels if ctx.from_labels else _grad_from_dense
        grad = backward_for(ctx, p, a, b, e)
        return grad.view(ctx.shape), None, None, None, None, None, None


def _weighted_channel_sum(p: Tensor, weights: Tensor) -> Tensor:
    """s_v = sum_c p_c w_c for w (N or 1, K, 1) or (N, K, V), accumulated channel by channel."""
    out = p[:, 0] * weights[:, 0]
    for c in range(1, p.shape[1]):
        out.addcmul_(p[:, c], weights[:, c])
    return out


def _grad_from_labels(ctx, p: Tensor, a: Tensor, b: Tensor | None, e: Tensor | None) -> Tensor:
    """Softmax with label maps: dL/dp_c = A_c + E_c p_c + B_c [l = c], through the softmax Jacobian."""
    _, labels, p_at_label = ctx.saved_tensors
    n, k, _ = p.shape
    direct = a if e is None else torch.addcmul(a, e, p)  # dL/dp without the label term
    s = _weighted_channel_sum(p, direct.expand(n, k, -1) if e is None else direct)
    label_term = None
    if b is not None:
        b_at_label = b.view(-1, k).expand(n, k).gather(1, labels)
        label_term = p_at_label * b_at_label
        s.add_(label_term)
    grad = torch.sub(direct, s.unsqueeze(1)) if e is None else direct.sub_(s.unsqueeze(1))
    grad.mul_(p)
    if label_term is not None:
        grad.scatter_add_(1, labels.unsqueeze(1), label_term.unsqueeze(1))
    return grad


def _grad_from_dense(ctx, p: Tensor, a: Tensor, b: Tensor | None, e: Tensor | None) -> Tensor:
    """Soft or binary targets: dL/dp = A + B g + E p, through the softmax or sigmoid Jacobian."""
    _, g = ctx.saved_tensors
    grad = torch.addcmul(a, b, g) if b is not None else a.expand_as(p).clone()
    if e is not None:
        grad.addcmul_(e, p)
    if ctx.activation == "sigmoid":
        grad.mul_(p)
        return grad.addcmul_(grad, p, value=-1.0)  # t p (1 - p)
    s = _weighted_channel_sum(p, grad)
    return grad.sub_(s.unsqueeze(1)).mul_(p)


def region_sums(
    logits: Tensor,
    labels: Tensor | None,
    soft: Tensor | None,
    activation: str,
    batch: bool,
    include_background: bool,
    squares: bool = False,
) -> RegionSums:
    """Region sums of p = activation(logits) against labels (N, 1, ...) or a soft target (N, K, ...).

    Channel 0 is left out when ``include_background`` is False; with ``batch`` the sums run over
    the batch axis too. ``squares`` adds sum p^2 and sum g^2.
    """
    first = 0 if include_background else 1
    pg, p, g, p2, g2 = _RegionSumsFunction.apply(logits, labels, soft, activation, batch, first, squares)
    return RegionSums(pg=pg, p=p, g=g, p2=p2 if squares else None, g2=g2 if squares else None)
