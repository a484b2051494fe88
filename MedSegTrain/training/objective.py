"""The training objective from the config's ``loss`` section, on top of ``MedSegTrain.losses``.

``loss.name`` is any ``get_loss`` name, or a sum of names joined by ``+`` (``dice+ce``; the alias
``dice_ce`` is nnU-Net's default). ``loss.params`` holds that loss's keyword arguments; for a sum,
a mapping from term name to its arguments. With ``loss.deep_supervision`` the network returns a
list of outputs (full resolution first) and ``DeepSupervisionLoss`` sums the weighted terms (B3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from MedSegTrain.errors import MedSegError

ALIASES = {"dice_ce": "dice+ce"}


class SumLoss(nn.Module):
    """The unweighted sum of several losses called on the same logits and target."""

    def __init__(self, terms: Sequence[nn.Module]) -> None:
        super().__init__()
        self.terms = nn.ModuleList(terms)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sum(term(logits, target) for term in self.terms)


def build_objective(section: Mapping[str, Any], activation: str = "softmax") -> nn.Module:
    """The loss module for ``section`` (the config's ``loss``); ``activation`` of the network head."""
    from MedSegTrain.losses import DeepSupervisionLoss, get_loss

    name = ALIASES.get(str(section.get("name")), str(section.get("name")))
    params = dict(section.get("params") or {})
    names = [n.strip() for n in name.split("+")]
    if len(names) == 1:
        base = get_loss(names[0], **_with_activation(params, activation))
    else:
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise MedSegError(
                f"loss.params: for the sum '{name}' give arguments per term "
                f"({', '.join(names)}); '{unknown[0]}' is not a term"
            )
        base = SumLoss(
            [get_loss(n, **_with_activation(dict(params.get(n) or {}), activation)) for n in names]
        )
    if section.get("deep_supervision"):
        weights = section.get("deep_supervision_weights")
        return DeepSupervisionLoss(base, weights=list(weights) if weights else None)
    return base


def _with_activation(params: dict[str, Any], activation: str) -> dict[str, Any]:
    params.setdefault("activation", activation)
    return params
