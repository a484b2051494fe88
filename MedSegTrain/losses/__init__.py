"""The loss library: every loss of ``../shared/FORMULAS.md`` by name, plus deep supervision.

``get_loss(name, **params)`` returns an ``nn.Module`` called as ``loss(logits, target)`` with
logits (N, K, *spatial) and integer labels (N, 1, *spatial) or soft targets (N, K, *spatial).
Paper IDs: L1 (loss family), X9 (top-k CE), B3/B4 (deep supervision, Dice forms), C6 (Tanimoto+CE).
"""

from __future__ import annotations

import inspect

from torch import nn

from MedSegTrain.errors import MedSegError
from MedSegTrain.losses.common import SegmentationLoss
from MedSegTrain.losses.compound import ComboLoss, MixedFocalLoss, TanimotoCELoss
from MedSegTrain.losses.deep_supervision import DeepSupervisionLoss
from MedSegTrain.losses.region import (
    CosineTverskyLoss,
    DiceLoss,
    DiceSquaredLoss,
    FocalTverskyLoss,
    TanimotoLoss,
    TverskyLoss,
)
from MedSegTrain.losses.voxelwise import CrossEntropyLoss, FocalLoss, TopKCrossEntropyLoss

LOSSES: dict[str, type[SegmentationLoss]] = {
    cls.name: cls
    for cls in (
        CrossEntropyLoss,
        TopKCrossEntropyLoss,
        FocalLoss,
        DiceLoss,
        DiceSquaredLoss,
        TverskyLoss,
        FocalTverskyLoss,
        CosineTverskyLoss,
        ComboLoss,
        MixedFocalLoss,
        TanimotoLoss,
        TanimotoCELoss,
    )
}


def list_losses() -> list[str]:
    """The loss names ``get_loss`` accepts."""
    return list(LOSSES)


def loss_parameters(name: str) -> dict[str, object]:
    """The options of loss ``name`` with their defaults (``None``: unset)."""
    cls = _loss_class(name)
    signature = inspect.signature(cls.__init__)
    return {p.name: p.default for p in list(signature.parameters.values())[1:]}


def get_loss(name: str, **params: object) -> nn.Module:
    """The loss ``name`` configured with ``params``; MedSegError names any unknown loss or option."""
    valid = loss_parameters(name)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise MedSegError(
            f"loss {name!r}: unknown option(s) {', '.join(unknown)}; valid options: {', '.join(valid)}"
        )
    return _loss_class(name)(**params)


def _loss_class(name: str) -> type[SegmentationLoss]:
    if not isinstance(name, str) or name not in LOSSES:
        raise MedSegError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}")
    return LOSSES[name]


__all__ = ["LOSSES", "DeepSupervisionLoss", "get_loss", "list_losses", "loss_parameters"]
