"""Every loss of ``MedSegTrain.losses``: forward + backward on (2, 3, 128, 128, 128) next to its peer.

Run: ``python -m pytest Testing/benchmarks/bench_losses.py -m benchmark -s``

Peers, same logits and target, same run, interleaved, two threads, best of ``REPEATS``:
MONAI's DiceLoss (plain, ``squared_pred``, ``squared_pred + jaccard``), TverskyLoss, FocalLoss,
DiceCELoss (plain and squared+jaccard) and DiceFocalLoss; torch's CrossEntropyLoss for ``ce``
(MONAI has none of its own; its DiceCELoss uses it); a full ``torch.sort`` per sample for
``topk_ce``. Where the peer computes the same number (see docs/losses.md) the values are checked
too: both float32 values against the peer's float64 value (relative error columns). Integer
label targets (N, 1, ...) and soft mixup targets (N, K, ...) are both timed.
Target: no loss slower than 1.2x its MONAI peer.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from monai.losses import DiceCELoss, DiceFocalLoss, DiceLoss, FocalLoss, TverskyLoss

from MedSegTrain.losses import get_loss

pytestmark = pytest.mark.benchmark

SHAPE = (2, 3, 128, 128, 128)
REPEATS = 3
TARGET_RATIO = 1.2
SMOOTH = 1e-5


def naive_topk(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Top-k CE the slow way: every per-voxel CE fully sorted per sample."""
    if target.shape[1] == 1:
        per_voxel = F.cross_entropy(logits, target[:, 0], reduction="none")
    else:
        per_voxel = F.cross_entropy(logits, target, reduction="none")
    flat = per_voxel.flatten(1)
    k = round(0.05 * flat.shape[1])
    return torch.sort(flat, dim=1, descending=True).values[:, :k].mean()


def torch_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, target[:, 0] if target.shape[1] == 1 else target)


def monai_peer(name: str, labels: bool) -> tuple[str, Callable, Callable[[float], float] | None]:
    """(peer name, peer loss, map from the peer's value to ours or None when they differ by design)."""
    common = dict(softmax=True, to_onehot_y=labels, batch=True, smooth_nr=SMOOTH, smooth_dr=SMOOTH)
    tversky = TverskyLoss(alpha=0.3, beta=0.7, **common)
    same = lambda v: v  # noqa: E731
    peers = {
        "ce": ("torch CrossEntropyLoss", torch_ce, same),
        "topk_ce": ("CE + full torch.sort", naive_topk, same),
        "focal": (
            "MONAI FocalLoss",
            FocalLoss(use_softmax=True, to_onehot_y=labels, gamma=2.0, alpha=[0.25] * 3),
            lambda v: 3 * v,
        ),
        "dice": ("MONAI DiceLoss", DiceLoss(**common), same),
        "dice_squared": ("MONAI DiceLoss squared_pred", DiceLoss(squared_pred=True, **common), same),
        "tanimoto": (
            "MONAI DiceLoss squared+jaccard",
            DiceLoss(
                softmax=True, to_onehot_y=labels, batch=True, squared_pred=True, jaccard=True,
                smooth_nr=2 * SMOOTH, smooth_dr=2 * SMOOTH,
            ),
            same,
        ),
        "tversky": ("MONAI TverskyLoss", tversky, same),
        "focal_tversky": ("MONAI TverskyLoss", tversky, None),
        "cosine_tversky": ("MONAI TverskyLoss", tversky, None),
        "combo": ("MONAI DiceCELoss", DiceCELoss(**common), lambda v: v - 1),
        "mixed_focal": (
            "MONAI DiceFocalLoss",
            DiceFocalLoss(gamma=2.0, alpha=None, **common),
            None,
        ),
        "tanimoto_ce": (
            "MONAI DiceCELoss squared+jaccard",
            DiceCELoss(
                softmax=True, to_onehot_y=labels, batch=True, squared_pred=True, jaccard=True,
                lambda_dice=0.6, lambda_ce=0.4, smooth_nr=2 * SMOOTH, smooth_dr=2 * SMOOTH,
            ),
            same,
        ),
    }
    return peers[name]


def timed(loss: Callable, logits: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    """Seconds for forward + backward, and the loss value."""
    x = logits.detach().clone().requires_grad_(True)
    start = time.perf_counter()
    value = loss(x, target)
    value.backward()
    return time.perf_counter() - start, float(value.detach())


@pytest.mark.parametrize("target_kind", ["labels", "soft"])
def test_losses_against_peers(target_kind: str) -> None:
    torch.set_num_threads(2)
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(SHAPE, generator=gen)
    if target_kind == "labels":
        target = torch.randint(0, SHAPE[1], (SHAPE[0], 1, *SHAPE[2:]), generator=gen)
    else:  # a mixup of two label maps with lam = 0.3
        a, b = (torch.randint(0, SHAPE[1], SHAPE[:1] + SHAPE[2:], generator=gen) for _ in range(2))
        target = 0.3 * F.one_hot(a, SHAPE[1]).movedim(-1, 1) + 0.7 * F.one_hot(b, SHAPE[1]).movedim(-1, 1)
        target = target.float()
    print(f"\nlosses, forward+backward on {SHAPE} float32, {target_kind} targets, 2 threads, "
          f"best of {REPEATS}")
    print(f"{'loss':<15} {'ours s':>8} {'peer s':>8} {'ratio':>6} {'ours err':>9} {'peer err':>9}  peer")
    slow = []
    for name in [
        "ce", "topk_ce", "focal", "dice", "dice_squared", "tanimoto", "tversky", "focal_tversky",
        "cosine_tversky", "combo", "mixed_focal", "tanimoto_ce",
    ]:
        ours = get_loss(name)
        peer_name, peer, to_ours = monai_peer(name, target_kind == "labels")
        timed(ours, logits, target), timed(peer, logits, target)  # warm-up
        best_ours = best_peer = float("inf")
        for _ in range(REPEATS):
            t_ours, v_ours = timed(ours, logits, target)
            t_peer, v_peer = timed(peer, logits, target)
            best_ours, best_peer = min(best_ours, t_ours), min(best_peer, t_peer)
        ratio = best_ours / best_peer
        errors = ""
        if to_ours is not None:  # same definition: both float32 values against the peer in float64
            with torch.no_grad():
                exact_target = target.double() if target.is_floating_point() else target
                exact = to_ours(float(peer(logits.double(), exact_target)))
            ours_error = abs(v_ours - exact) / abs(exact)
            peer_error = abs(to_ours(v_peer) - exact) / abs(exact)
            errors = f"{ours_error:9.1e} {peer_error:9.1e}"
            assert ours_error < 1e-5, f"{name}: {v_ours} vs float64 {exact}"
        print(f"{name:<15} {best_ours:8.3f} {best_peer:8.3f} {ratio:6.2f} {errors:>19}  {peer_name}")
        if peer_name.startswith("MONAI") and ratio > TARGET_RATIO:
            slow.append(f"{name} {ratio:.2f}x {peer_name}")
    assert not slow, f"slower than {TARGET_RATIO}x the MONAI peer: {slow}"
