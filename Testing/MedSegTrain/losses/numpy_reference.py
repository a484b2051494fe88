"""An independent float64 numpy transcription of the loss definitions in ../shared/FORMULAS.md.

Written from the formulas, not from the torch code: straightforward loops over classes and
explicit one-hot encodings, so a disagreement points at one of the two. Arrays are numpy,
logits (N, K, *spatial), target labels (N, 1, *spatial) or soft (N, K, *spatial).
"""

from __future__ import annotations

import numpy as np

SMOOTH = 1e-5


def probabilities(logits: np.ndarray, activation: str) -> np.ndarray:
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-logits))
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def log_probabilities(logits: np.ndarray, activation: str) -> np.ndarray:
    if activation == "sigmoid":
        return -np.logaddexp(0.0, -logits)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def one_hot(target: np.ndarray, num_classes: int) -> np.ndarray:
    """Labels (N, 1, ...) to (N, K, ...); targets with K channels pass through."""
    if target.shape[1] == num_classes:
        return target.astype(np.float64)
    out = np.zeros((target.shape[0], num_classes, *target.shape[2:]))
    for c in range(num_classes):
        out[:, c] = target[:, 0] == c
    return out


def ce_per_voxel(logits, target, activation="softmax") -> np.ndarray:
    """(N, *spatial): sum over classes (softmax) or mean over channels (sigmoid)."""
    g = one_hot(target, logits.shape[1])
    if activation == "sigmoid":
        log_p = log_probabilities(logits, "sigmoid")
        log_1mp = log_probabilities(-logits, "sigmoid")
        return -(g * log_p + (1 - g) * log_1mp).mean(axis=1)
    return -(g * log_probabilities(logits, "softmax")).sum(axis=1)


def ce(logits, target, activation="softmax") -> float:
    return float(ce_per_voxel(logits, target, activation).mean())


def topk_ce(logits, target, activation="softmax", k_fraction=0.05, k=None) -> float:
    per_voxel = ce_per_voxel(logits, target, activation).reshape(logits.shape[0], -1)
    voxels = per_voxel.shape[1]
    keep = k if k is not None else max(1, round(k_fraction * voxels))
    keep = min(keep, voxels)
    hardest = -np.sort(-per_voxel, axis=1)[:, :keep]
    return float(hardest.mean(axis=1).mean())


def focal(logits, target, activation="softmax", alpha=0.25, gamma=2.0) -> float:
    k = logits.shape[1]
    alphas = np.full(k, alpha) if np.isscalar(alpha) else np.asarray(alpha, dtype=float)
    g = one_hot(target, k)
    p = probabilities(logits, activation)
    log_p = log_probabilities(logits, activation)
    total = np.zeros((logits.shape[0], *logits.shape[2:]))
    for c in range(k):
        if activation == "sigmoid":
            log_1mp = log_probabilities(-logits[:, c], "sigmoid")
            term = (1 - p[:, c]) ** gamma * g[:, c] * log_p[:, c] + p[:, c] ** gamma * (1 - g[:, c]) * log_1mp
            total += -alphas[c] * term / k
        else:
            total += -alphas[c] * (1 - p[:, c]) ** gamma * g[:, c] * log_p[:, c]
    return float(total.mean())


def region_sums(logits, target, activation, batch, include_background):
    """Dict of per-class sums with shape (K',) (batch) or (N, K')."""
    k = logits.shape[1]
    p = probabilities(logits, activation)
    g = one_hot(target, k)
    first = 0 if include_background else 1
    p, g = p[:, first:], g[:, first:]
    axes = (0, *range(2, p.ndim)) if batch else tuple(range(2, p.ndim))
    return {
        "pg": (p * g).sum(axis=axes),
        "p": p.sum(axis=axes),
        "g": g.sum(axis=axes),
        "p2": (p**2).sum(axis=axes),
        "g2": (g**2).sum(axis=axes),
        "fn": ((1 - p) * g).sum(axis=axes),
        "fp": (p * (1 - g)).sum(axis=axes),
    }


def _sums(logits, target, activation="softmax", batch=True, include_background=True):
    return region_sums(logits, target, activation, batch, include_background)


def dice_index(s, smooth=SMOOTH):
    return (2 * s["pg"] + smooth) / (s["p"] + s["g"] + smooth)


def tversky_index(s, delta=0.7, smooth=SMOOTH):
    return (s["pg"] + smooth) / (s["pg"] + delta * s["fn"] + (1 - delta) * s["fp"] + smooth)


def dice(logits, target, smooth=SMOOTH, **opts) -> float:
    return float(1 - dice_index(_sums(logits, target, **opts), smooth).mean())


def dice_squared(logits, target, smooth=SMOOTH, **opts) -> float:
    s = _sums(logits, target, **opts)
    return float(1 - ((2 * s["pg"] + smooth) / (s["p2"] + s["g2"] + smooth)).mean())


def tversky(logits, target, delta=0.7, smooth=SMOOTH, **opts) -> float:
    return float(1 - tversky_index(_sums(logits, target, **opts), delta, smooth).mean())


def focal_tversky(logits, target, delta=0.7, gamma=4 / 3, smooth=SMOOTH, **opts) -> float:
    ti = tversky_index(_sums(logits, target, **opts), delta, smooth)
    return float(((1 - ti) ** (1 / gamma)).mean())


def cosine_tversky(logits, target, delta=0.7, gamma=1.0, smooth=SMOOTH, **opts) -> float:
    ti = tversky_index(_sums(logits, target, **opts), delta, smooth)
    return float((np.cos(np.pi / 2 * ti) ** gamma).mean())


def tanimoto(logits, target, smooth=SMOOTH, **opts) -> float:
    s = _sums(logits, target, **opts)
    return float(1 - ((s["pg"] + smooth) / (s["p2"] + s["g2"] - s["pg"] + smooth)).mean())


def combo(logits, target, smooth=SMOOTH, activation="softmax", **opts) -> float:
    dsc = dice_index(_sums(logits, target, activation=activation, **opts), smooth)
    return ce(logits, target, activation) - float(dsc.mean())


def mixed_focal(
    logits,
    target,
    activation="softmax",
    lam=0.5,
    alpha=0.25,
    gamma_focal=2.0,
    delta=0.7,
    gamma_tversky=4 / 3,
    smooth=SMOOTH,
    **opts,
) -> float:
    f = focal(logits, target, activation, alpha, gamma_focal)
    ft = focal_tversky(logits, target, delta, gamma_tversky, smooth, activation=activation, **opts)
    return lam * f + (1 - lam) * ft


def tanimoto_ce(logits, target, weights=(0.6, 0.4), activation="softmax", smooth=SMOOTH, **opts) -> float:
    t = tanimoto(logits, target, smooth, activation=activation, **opts)
    return weights[0] * t + weights[1] * ce(logits, target, activation)


REFERENCES = {
    "ce": ce,
    "topk_ce": topk_ce,
    "focal": focal,
    "dice": dice,
    "dice_squared": dice_squared,
    "tversky": tversky,
    "focal_tversky": focal_tversky,
    "cosine_tversky": cosine_tversky,
    "combo": combo,
    "mixed_focal": mixed_focal,
    "tanimoto": tanimoto,
    "tanimoto_ce": tanimoto_ce,
}
