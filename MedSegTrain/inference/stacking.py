"""Stacked ensembles (C8, Kloenne et al.): the top-n members per architecture, combined by a
small learned stacker instead of a plain average.

* :func:`select_top_members` keeps, for each architecture, the ``n`` members with the best
  validation score (the paper: top 5 of the 3D MS-D nets and top 5 of the 2D U-Nets).
* :class:`LinearStacker` is a 1x1(x1) convolution over the members' concatenated
  probabilities — multinomial logistic regression per voxel (softmax tasks) or one logistic
  regression per channel (sigmoid tasks) — fitted by L-BFGS (scipy, gradients from torch
  autograd) on *out-of-fold* probabilities (each training case predicted by members that did not
  train on it), with a small L2 penalty.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize

from MedSegTrain.errors import MedSegError


@dataclass(frozen=True)
class MemberScore:
    """One candidate member: its architecture, its validation score (higher is better), a handle."""

    architecture: str
    score: float
    member: Any


def select_top_members(candidates: Iterable[MemberScore], n: int = 5) -> list[MemberScore]:
    """The ``n`` best-scoring members of each architecture (ties: first seen), best first per architecture."""
    if n < 1:
        raise MedSegError(f"stacking: n must be >= 1, got {n}")
    by_arch: dict[str, list[tuple[int, MemberScore]]] = {}
    for order, candidate in enumerate(candidates):
        if not np.isfinite(candidate.score):
            raise MedSegError(f"stacking: member {candidate.member!r} has no finite validation score")
        by_arch.setdefault(candidate.architecture, []).append((order, candidate))
    chosen: list[MemberScore] = []
    for items in by_arch.values():
        ranked = sorted(items, key=lambda item: (-item[1].score, item[0]))
        chosen.extend(candidate for _order, candidate in ranked[:n])
    return chosen


def member_scores(bundles: Sequence[Any], metric: str = "dice") -> list[MemberScore]:
    """Candidates from bundles: architecture = network name, score = the member's validation
    ``metric`` (``members[i].validation_metrics``, else the bundle's ``training.validation_metrics``)."""
    out = []
    for bundle in bundles:
        info = bundle.info
        arch = info.network.name
        fallback = info.validation_metrics.get(metric)
        for i, member in enumerate(info.members):
            score = member.validation_metrics.get(metric, fallback)
            if not isinstance(score, (int, float)):
                raise MedSegError(f"{getattr(bundle, 'path', 'bundle')}: member {i} has no validation "
                                  f"{metric!r} score to rank it by")
            out.append(MemberScore(arch, float(score), (bundle, i)))
    return out


@dataclass
class LinearStacker:
    """Per-voxel linear stacker: ``logits = W @ concat(member probabilities) + b``.

    ``weight`` ``(K, M*K)`` and ``bias`` ``(K,)``; input channels are ordered member-major
    (member 0's K channels, then member 1's ...).
    """

    weight: np.ndarray
    bias: np.ndarray
    activation: str

    @property
    def n_members(self) -> int:
        return self.weight.shape[1] // self.weight.shape[0]

    def predict(self, member_probabilities: np.ndarray | torch.Tensor) -> np.ndarray:
        """Stacked probabilities ``(K, ...)`` from member probabilities ``(M, K, ...)``."""
        probs = torch.as_tensor(np.asarray(member_probabilities), dtype=torch.float32)
        m, k = probs.shape[:2]
        if (m * k, k) != (self.weight.shape[1], self.weight.shape[0]):
            raise MedSegError(f"stacker: fitted for {self.n_members} members x {self.weight.shape[0]} "
                              f"channels, got {m} x {k}")
        flat = probs.reshape(m * k, -1)
        logits = torch.from_numpy(self.weight).float() @ flat + torch.from_numpy(self.bias).float()[:, None]
        out = torch.softmax(logits, 0) if self.activation == "softmax" else torch.sigmoid(logits)
        return out.reshape(k, *probs.shape[2:]).numpy()

    def to_dict(self) -> dict[str, Any]:
        return {"weight": self.weight.tolist(), "bias": self.bias.tolist(), "activation": self.activation}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearStacker:
        try:
            weight = np.asarray(data["weight"], dtype=np.float64)
            bias = np.asarray(data["bias"], dtype=np.float64)
            activation = str(data["activation"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MedSegError(f"stacker: malformed stacker description ({exc})") from None
        if weight.ndim != 2 or bias.shape != (weight.shape[0],) or weight.shape[1] % weight.shape[0]:
            raise MedSegError(f"stacker: weight {weight.shape} and bias {bias.shape} do not fit together")
        return cls(weight, bias, activation)


def fit_stacker(member_probabilities: np.ndarray, target: np.ndarray, activation: str = "softmax",
                l2: float = 1e-4, max_voxels: int = 200_000,
                generator: np.random.Generator | None = None, max_iter: int = 200) -> LinearStacker:
    """Fit a :class:`LinearStacker` on out-of-fold probabilities.

    ``member_probabilities`` ``(M, K, ...)``; ``target`` ``(...)`` integer class indices for
    softmax, or ``(K, ...)`` binary masks for sigmoid. At most ``max_voxels`` voxels are used,
    drawn with ``generator``. The loss is the mean cross entropy plus ``l2 * ||W||²``.
    """
    probs = np.asarray(member_probabilities, dtype=np.float64)
    if probs.ndim < 3:
        raise MedSegError(f"stacking: expected member probabilities (M, K, ...), got shape {probs.shape}")
    m, k = probs.shape[:2]
    x = probs.reshape(m * k, -1)
    y = np.asarray(target)
    if activation == "softmax":
        if y.shape != probs.shape[2:]:
            raise MedSegError(f"stacking: target shape {y.shape} does not match the "
                              f"probabilities' {probs.shape[2:]}")
        y = y.reshape(-1).astype(np.int64)
        if y.min() < 0 or y.max() >= k:
            raise MedSegError(f"stacking: target classes must be 0..{k - 1}, got {y.min()}..{y.max()}")
    elif activation == "sigmoid":
        if y.shape != probs.shape[1:]:
            raise MedSegError(f"stacking: target shape {y.shape} must be (K, ...) = {probs.shape[1:]}")
        y = y.reshape(k, -1).astype(np.float64)
    else:
        raise MedSegError(f"stacking: activation must be 'softmax' or 'sigmoid', got {activation!r}")
    n = x.shape[1]
    if n > max_voxels:
        rng = generator if generator is not None else np.random.default_rng(0)
        pick = np.sort(rng.choice(n, size=max_voxels, replace=False))
        x, y = x[:, pick], (y[pick] if activation == "softmax" else y[:, pick])
    features = torch.from_numpy(x)
    labels = torch.from_numpy(y)
    n_weights = k * m * k

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = torch.from_numpy(theta).requires_grad_(True)
        with torch.enable_grad():
            loss = stacker_loss(params[:n_weights].view(k, m * k), params[n_weights:], features, labels,
                                activation, l2)
            (grad,) = torch.autograd.grad(loss, params)
        return float(loss.detach()), grad.numpy()

    result = minimize(objective, np.zeros(n_weights + k), jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iter, "gtol": 1e-9, "ftol": 1e-13})
    theta = result.x
    return LinearStacker(theta[:n_weights].reshape(k, m * k).copy(), theta[n_weights:].copy(), activation)


def stacker_loss(weight: torch.Tensor, bias: torch.Tensor, features: torch.Tensor, labels: torch.Tensor,
                 activation: str, l2: float) -> torch.Tensor:
    """Mean cross entropy of the linear stacker plus the L2 penalty (the fitted objective)."""
    logits = weight @ features + bias[:, None]
    if activation == "softmax":
        data = torch.nn.functional.cross_entropy(logits.T, labels)
    else:
        data = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
    return data + l2 * weight.square().sum()
