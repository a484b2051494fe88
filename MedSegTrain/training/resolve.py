"""What a training run resolves to, checked whole before anything is written (issue 18).

:func:`resolve_run` turns dataset + recipe + ``--set`` overrides into the exact config that
would run (auto plan <- recipe <- overrides, see :func:`MedSegTrain.training.api.build_config`)
and checks everything that can fail later: every key's value (finite numbers, choices), the
preprocessing spec, the network (built on the ``meta`` device, no memory), the loss, the
augmentation, ``training.amp`` on the chosen device, the split and the chosen folds, and the
local encoder weights file. ``medsegtrain train --print-config`` prints its config and stops;
``train`` claims the output folder only after it succeeded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from MedSegTrain.errors import MedSegError


@dataclass
class Resolved:
    """A run's dataset, validated config, split, folds to train, outputs and network."""

    dataset: Any
    config: dict[str, Any]
    split: Any
    chosen: list[Any]
    output: Any
    network: dict[str, Any]
    device: Any
    merge: dict[int, int]  # label value -> merged value (data.merge_labels, T1); empty: none


def resolve_run(
    dataset: Any,
    recipe: str | Path | Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
    device: Any,
    time_budget_minutes: float | None = None,
    folds: Sequence[int] | None = None,
) -> Resolved:
    """The resolved and fully checked run; raises :class:`MedSegError` naming the bad key."""
    from MedSegTrain.training.api import build_config, make_split, network_spec, output_plan
    from MedSegTrain.training.labelmerge import merged_dataset
    from MedSegTrain.training.splits import select_folds

    config = build_config(dataset, recipe, overrides, device.type, time_budget_minutes, folds)
    dataset, merge = merged_dataset(dataset, config["data"]["merge_labels"])
    split = make_split(dataset, config)
    chosen = select_folds(split, config["split"]["folds"])
    output = output_plan(config, dataset)
    network = network_spec(config, dataset.n_channels, output.n_channels)
    check_buildable(config, network, output, device)
    return Resolved(dataset, config, split, chosen, output, network, device, merge)


def check_buildable(config: Mapping[str, Any], network: Mapping[str, Any], output: Any, device: Any) -> None:
    """Build what the config names (preprocessing, network, loss, augmentation, precision)."""
    import torch

    from MedSegTrain.preprocessing.pipeline import PreprocessingSpec
    from MedSegTrain.training.engine import autocast_dtype
    from MedSegTrain.training.objective import build_objective

    try:
        PreprocessingSpec.from_dict(config["preprocessing"])
    except MedSegError as exc:
        raise MedSegError(f"training config: {exc}") from None
    from MedSegTrain.networks import get_network

    with torch.device("meta"):
        model = get_network(network["name"], **network["args"])
    _check_patch_multiple(config["patch"]["size"], network["name"], getattr(model, "size_multiple", None))
    try:
        build_objective(config["loss"], output.activation)
    except MedSegError as exc:
        raise MedSegError(f"training config: loss: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise MedSegError(f"training config: loss '{config['loss']['name']}': {exc}") from None
    if config["augmentation"]:
        from MedSegTrain.augment import build_augmentation

        build_augmentation(dict(config["augmentation"]))
    autocast_dtype(config["training"]["amp"], device)
    from MedSegTrain.training.normstats import check_statistics

    check_statistics(config)
    weights = config["network"].get("encoder_weights")
    if weights is not None and not Path(weights).is_file():
        raise MedSegError(f"training config: network.encoder_weights {weights}: no such file")


def _check_patch_multiple(size: list[int], name: str, multiple: int | None) -> None:
    """Networks with a fixed total stride (the encoder nets: 32) need a patch divisible by it."""
    if multiple and any(int(s) % multiple for s in size):
        fitted = [-(-int(s) // multiple) * multiple for s in size]
        raise MedSegError(f"training config: patch.size {list(size)} must be divisible by {multiple} for "
                          f"network {name!r} (e.g. --set patch.size=[{','.join(map(str, fitted))}])")
