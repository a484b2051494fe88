"""Mixup (X1) and CutMix on a batch of images and segmentation targets.

Mixup, exactly as FORMULAS.md: ``x~ = lam x_i + (1-lam) x_j`` and ``g~ = lam g_i + (1-lam) g_j``
with the same ``lam`` and the same partner ``j = perm(i)`` for image and mask, ``lam ~ Beta(alpha,
alpha)``. Integer labels ``(N, 1, ...)`` become soft one-hot ``(N, K, ...)`` first; float targets
(soft one-hot, or sigmoid region maps ``(N, R, ...)``) are mixed as given.

``alpha = 0`` switches mixing off: the images come back unchanged (the input tensor itself) and
``lam`` is 1, but integer labels are still turned into soft one-hot, so the caller always gets
the same target layout whatever alpha is (a loss never has to handle two forms in one run).

The whole operation is a gather and a ``lerp`` on the batch (plus a one-hot comparison for
integer labels), on the tensors' device: a negligible share of a training step (X2, see docs/augmentation.md).
"""

from __future__ import annotations

import math

import torch

from ..errors import MedSegError
from .randomness import beta, integers, permutation, resolve_generator


def mixup(
    images: torch.Tensor,
    targets: torch.Tensor,
    alpha: float,
    generator: torch.Generator | None = None,
    per_sample: bool = False,
    num_classes: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, float | torch.Tensor]:
    """Mix each sample with a random partner of the same batch (X1).

    Args:
        images: ``(N, C, *spatial)`` float batch.
        targets: integer labels ``(N, 1, *spatial)`` or float targets ``(N, K, *spatial)``.
        alpha: Beta(alpha, alpha) shape; 0 turns mixing off (paper's best: 0.5).
        generator: source of lam and of the partner permutation (``None``: a fresh random one).
        per_sample: one lam per sample (tensor ``(N,)``) instead of one per batch (float).
        num_classes: K, required for integer labels (inferring it from the batch's largest
            label would silently drop a class that happens to be absent from the batch).

    Returns:
        ``(mixed_images, mixed_targets (N, K, *spatial) float, lam)``.
    """
    alpha = _check_alpha(alpha)
    soft_or_labels, num_classes = _check_batch(images, targets, num_classes)
    generator = resolve_generator(generator)
    n = images.shape[0]
    if alpha == 0.0:
        lam_off: float | torch.Tensor = torch.ones(n, device=images.device) if per_sample else 1.0
        return images, _soft_targets(targets, num_classes, images.dtype), lam_off

    draws = beta(generator, alpha, n if per_sample else 1)
    partner = permutation(generator, n, images.device)
    if per_sample:
        lam: float | torch.Tensor = torch.as_tensor(draws, dtype=torch.float32, device=images.device)
        weight = lam.to(images.dtype).view(n, *([1] * (images.ndim - 1)))
    else:
        lam = float(draws[0])
        weight = torch.tensor(lam, dtype=images.dtype, device=images.device)
    mixed_images = torch.lerp(images[partner], images, weight)
    if soft_or_labels == "labels":
        mixed_targets = _mix_labels(targets, partner, weight, num_classes, images.dtype)
    else:
        soft = targets.to(images.dtype)
        mixed_targets = torch.lerp(soft[partner], soft, weight)
    return mixed_images, mixed_targets, lam


def cutmix(
    images: torch.Tensor,
    targets: torch.Tensor,
    alpha: float,
    generator: torch.Generator | None = None,
    per_sample: bool = False,
    num_classes: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, float | torch.Tensor]:
    """CutMix: paste a box of the partner ``perm(i)`` into sample ``i`` (image and mask alike).

    The box covers a fraction ``1 - lam`` of the image, ``lam ~ Beta(alpha, alpha)``: every
    spatial side is ``size * (1 - lam) ** (1 / dims)`` (rounded), its centre uniform in the image,
    clipped at the borders. The returned ``lam`` is the fraction of voxels that stayed the
    sample's own after clipping (float per batch, tensor ``(N,)`` with ``per_sample``: one box
    per sample). Arguments and target handling as in :func:`mixup`; ``alpha = 0`` is off.
    """
    alpha = _check_alpha(alpha)
    _, num_classes = _check_batch(images, targets, num_classes)
    generator = resolve_generator(generator)
    n = images.shape[0]
    soft = _soft_targets(targets, num_classes, images.dtype)
    if alpha == 0.0:
        lam_off: float | torch.Tensor = torch.ones(n, device=images.device) if per_sample else 1.0
        return images, soft, lam_off

    spatial = images.shape[2:]
    n_boxes = n if per_sample else 1
    draws = torch.as_tensor(beta(generator, alpha, n_boxes), dtype=torch.float64)
    partner = permutation(generator, n, images.device)
    side_fraction = (1.0 - draws) ** (1.0 / len(spatial))
    inside = torch.ones((n_boxes, 1, *spatial), dtype=torch.bool, device=images.device)
    kept = torch.ones(n_boxes, dtype=torch.float64)
    for axis, size in enumerate(spatial):
        extent = torch.round(side_fraction * size).long()
        centre = integers(generator, 0, size, (n_boxes,), torch.device("cpu"))
        low = (centre - extent // 2).clamp(0, size)
        high = (centre - extent // 2 + extent).clamp(0, size)
        kept = kept * (high - low).double() / size
        coords = torch.arange(size, device=images.device)
        view = [n_boxes, 1] + [1] * len(spatial)
        view[2 + axis] = size
        low_d, high_d = low.to(images.device), high.to(images.device)
        along = (coords >= low_d[:, None]) & (coords < high_d[:, None])
        inside = inside & along.view(view)
    mixed_images = torch.where(inside, images[partner], images)
    mixed_targets = torch.where(inside, soft[partner], soft)
    own = 1.0 - kept
    lam: float | torch.Tensor = own.float().to(images.device) if per_sample else float(own[0])
    return mixed_images, mixed_targets, lam


def _check_alpha(alpha: float) -> float:
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise MedSegError(f"mixup alpha must be a number >= 0, got {alpha!r}") from None
    if not math.isfinite(value) or value < 0:
        raise MedSegError(f"mixup alpha must be a finite number >= 0, got {alpha!r}")
    return value


def _check_batch(
    images: torch.Tensor, targets: torch.Tensor, num_classes: int | None
) -> tuple[str, int | None]:
    if not isinstance(images, torch.Tensor) or images.ndim < 3 or not images.is_floating_point():
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise MedSegError(f"mixup images must be a float tensor (N, C, *spatial), got {shape}")
    if not isinstance(targets, torch.Tensor) or targets.ndim != images.ndim:
        shape = tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise MedSegError(
            f"mixup targets must be a tensor (N, 1 or K, *spatial) matching images {tuple(images.shape)}, "
            f"got {shape}"
        )
    if targets.shape[0] != images.shape[0] or targets.shape[2:] != images.shape[2:]:
        raise MedSegError(
            f"mixup targets {tuple(targets.shape)} do not match images {tuple(images.shape)} "
            "in batch size or spatial shape"
        )
    return _check_targets(targets, num_classes)


def _check_targets(targets: torch.Tensor, num_classes: int | None) -> tuple[str, int | None]:
    """``("labels", K)`` for integer label maps, ``("soft", None)`` for anything mixed as is."""
    is_label_map = not targets.is_floating_point() and targets.dtype != torch.bool and targets.shape[1] == 1
    if not is_label_map:
        return "soft", None
    if num_classes is None:
        raise MedSegError(
            "mixup needs num_classes for integer label targets (N, 1, ...): a batch may lack the "
            "highest class, so it cannot be inferred safely"
        )
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise MedSegError(f"mixup num_classes must be a positive integer, got {num_classes!r}")
    low, high = (int(value) for value in torch.aminmax(targets))
    if low < 0 or high >= num_classes:
        raise MedSegError(
            f"mixup integer labels must lie in [0, {num_classes - 1}] for num_classes={num_classes}, "
            f"found values {low}..{high}"
        )
    return "labels", num_classes


def _soft_targets(targets: torch.Tensor, num_classes: int | None, dtype: torch.dtype) -> torch.Tensor:
    if num_classes is None:
        return targets.to(dtype)
    classes = torch.arange(num_classes, device=targets.device).view(
        1, num_classes, *([1] * (targets.ndim - 2))
    )
    return (targets == classes).to(dtype)


def _mix_labels(
    labels: torch.Tensor, partner: torch.Tensor, weight: torch.Tensor, num_classes: int, dtype: torch.dtype
) -> torch.Tensor:
    """``lam * onehot(y_i) + (1 - lam) * onehot(y_perm(i))``: one comparison, one gather, one lerp."""
    one_hot = _soft_targets(labels, num_classes, dtype)
    return torch.lerp(one_hot[partner], one_hot, weight)
