"""Optimisers by name: Adam, AdamW, SGD (Nesterov), RAdam, the Lookahead wrapper (X8) and Ranger (B7).

torch has no Lookahead, so it is written here (Zhang et al. 2019): every ``k`` inner steps the
slow weights move ``alpha`` of the way towards the fast weights and the fast weights restart from
there. Ranger is RAdam wrapped in Lookahead, as the BraTS paper used it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from MedSegTrain.errors import MedSegError

OPTIMIZERS = ("adam", "adamw", "sgd", "radam", "ranger")


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


def build_optimizer(params: Iterable[torch.nn.Parameter], section: Mapping[str, Any]) -> Any:
    """The optimiser described by the config's ``optimizer`` section."""
    name = str(section.get("name", "adam")).lower()
    lr = float(section.get("lr", 1e-3))
    wd = float(section.get("weight_decay", 0.0))
    betas = tuple(float(b) for b in section.get("betas", (0.9, 0.999)))
    params = [p for p in params if p.requires_grad]
    if not params:
        raise MedSegError("optimizer: the network has no trainable parameters (is everything frozen?)")
    if name == "adam":
        inner: torch.optim.Optimizer = torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=wd)
    elif name == "adamw":
        inner = torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=wd)
    elif name == "sgd":
        inner = torch.optim.SGD(
            params,
            lr=lr,
            momentum=float(section.get("momentum", 0.99)),
            nesterov=bool(section.get("nesterov", True)),
            weight_decay=wd,
        )
    elif name in ("radam", "ranger"):
        inner = torch.optim.RAdam(params, lr=lr, betas=betas, weight_decay=wd)
    else:
        raise MedSegError(f"optimizer.name '{name}': unknown; choose one of {', '.join(OPTIMIZERS)}")
    if name == "ranger" or section.get("lookahead", False):
        return Lookahead(
            inner, k=int(section.get("lookahead_k", 6)), alpha=float(section.get("lookahead_alpha", 0.5))
        )
    return inner
