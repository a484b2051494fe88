"""Optimisers by name: Adam, AdamW, SGD (Nesterov), RAdam, the Lookahead wrapper (X8) and Ranger (B7).

torch has no Lookahead, so it is written here (Zhang et al. 2019): every ``k`` inner steps the
slow weights move ``alpha`` of the way towards the fast weights and the fast weights restart from
there. Ranger is RAdam wrapped in Lookahead, as the BraTS paper used it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

from MedSegTrain.errors import MedSegError


class Lookahead:
    """Wraps any torch optimiser; ``k`` fast steps, then ``slow += alpha * (fast - slow)``, fast = slow."""

    def __init__(self, inner: torch.optim.Optimizer, k: int = 6, alpha: float = 0.5) -> None:
        if k < 1 or not 0.0 <= alpha <= 1.0:
            raise MedSegError(f"optimizer.lookahead: k must be >= 1 and alpha in [0, 1] (got {k}, {alpha})")
        self.inner, self.k, self.alpha = inner, int(k), float(alpha)
        self.counter = 0
        self.slow = [[p.detach().clone() for p in group["params"]] for group in inner.param_groups]

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.inner.param_groups

    @property
    def state(self) -> Any:
        return self.inner.state

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = self.inner.step(closure)
        self.counter += 1
        if self.counter % self.k == 0:
            for group, slow_group in zip(self.inner.param_groups, self.slow, strict=True):
                for fast, slow in zip(group["params"], slow_group, strict=True):
                    slow.add_(fast.detach() - slow, alpha=self.alpha)
                    fast.copy_(slow)
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {
            "inner": self.inner.state_dict(),
            "counter": self.counter,
            "slow": [[s.clone() for s in group] for group in self.slow],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.inner.load_state_dict(state["inner"])
        self.counter = int(state["counter"])
        for mine, saved in zip(self.slow, state["slow"], strict=True):
            for s, v in zip(mine, saved, strict=True):
                s.copy_(v)


def _adam(params: list[torch.nn.Parameter], section: Mapping[str, Any]) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=_lr(section), betas=_betas(section), weight_decay=_wd(section))


def _adamw(params: list[torch.nn.Parameter], section: Mapping[str, Any]) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=_lr(section), betas=_betas(section), weight_decay=_wd(section))


def _sgd(params: list[torch.nn.Parameter], section: Mapping[str, Any]) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=_lr(section), momentum=float(section.get("momentum", 0.99)),
                           nesterov=bool(section.get("nesterov", True)), weight_decay=_wd(section))


def _radam(params: list[torch.nn.Parameter], section: Mapping[str, Any]) -> torch.optim.Optimizer:
    return torch.optim.RAdam(params, lr=_lr(section), betas=_betas(section), weight_decay=_wd(section))


def _lr(section: Mapping[str, Any]) -> float:
    return float(section.get("lr", 1e-3))


def _wd(section: Mapping[str, Any]) -> float:
    return float(section.get("weight_decay", 0.0))


def _betas(section: Mapping[str, Any]) -> tuple[float, ...]:
    return tuple(float(b) for b in section.get("betas", (0.9, 0.999)))


OPTIMIZERS: dict[str, Callable[[list[torch.nn.Parameter], Mapping[str, Any]], torch.optim.Optimizer]] = {
    "adam": _adam, "adamw": _adamw, "sgd": _sgd, "radam": _radam, "ranger": _radam,
}
"""The inner optimiser of each ``optimizer.name`` (ranger: RAdam, wrapped in Lookahead below);
the config schema takes its choices from here."""


def build_optimizer(params: Iterable[torch.nn.Parameter], section: Mapping[str, Any]) -> Any:
    """The optimiser described by the config's ``optimizer`` section."""
    name = str(section.get("name", "adam")).lower()
    params = [p for p in params if p.requires_grad]
    if not params:
        raise MedSegError("optimizer: the network has no trainable parameters (is everything frozen?)")
    if name not in OPTIMIZERS:
        raise MedSegError(f"optimizer.name '{name}': unknown; choose one of {', '.join(OPTIMIZERS)}")
    inner = OPTIMIZERS[name](params, section)
    if name == "ranger" or section.get("lookahead", False):
        return Lookahead(
            inner, k=int(section.get("lookahead_k", 6)), alpha=float(section.get("lookahead_alpha", 0.5))
        )
    return inner
