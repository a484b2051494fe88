"""Training engine: one validated config, paper recipes by name, folds, checkpoints, SWA, DDP.

Entry point: :func:`train` (used by ``medsegtrain train`` and ``medsegtrain demo``). Modules:
``config`` (schema, recipes, ``--set``), ``planning`` (the auto recipe), ``splits``, ``loader``,
``engine`` (the loop), ``checkpoint``, ``optim``, ``schedules``, ``swa``, ``distributed``,
``logs``, ``validation``, ``heldout``, ``transfer`` (fine-tuning from a bundle), ``filtering``.
The multi-site transfer chain that calls :func:`train` per site is
:mod:`MedSegTrain.workflows.transfer_chain`. See docs/training.md.
"""

from __future__ import annotations

from typing import Any


def train(*args: Any, **kwargs: Any) -> Any:
    """See :func:`MedSegTrain.training.api.train` (imported lazily: it pulls in torch)."""
    from MedSegTrain.training.api import train as _train

    return _train(*args, **kwargs)


train.__doc__ = (
    "train(data, out_dir, recipe='auto', folds=None, time_budget_minutes=None, overrides=None, "
    "device='auto', progress=None, resume=False) -> list[Path]: one bundle per fold; "
    "see MedSegTrain.training.api.train."
)

__all__ = ["train"]
