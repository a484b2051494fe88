"""What a training run resolves to, checked whole before anything is written.

:func:`resolve_run` turns dataset + recipe + ``--set`` overrides into the exact config that
would run (auto plan <- recipe <- overrides, :func:`build_config`), with its split
(:func:`make_split`), outputs (:func:`output_plan`) and network (:func:`network_spec`), and
checks everything that can fail later: every key's value (finite numbers, choices), the
preprocessing spec, the network (built on the ``meta`` device, no memory), the loss, the
augmentation, ``training.amp`` on the chosen device, the split and the chosen folds, and the
local encoder weights file. ``medsegtrain train --print-config`` prints its config and stops;
``train`` claims the output folder only after it succeeded, so a run that would fail on a bad
key fails before it has written anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from MedSegTrain.errors import MedSegError
from MedSegTrain.training import config as cfgmod
from MedSegTrain.training.options import RecipeOptions
from MedSegTrain.training.splits import Split, fixed_split, kfold_split, robustness_split


@dataclass
class Resolved:
    """A run's dataset, validated config and its typed options, split, folds, outputs and network."""

    dataset: Any
    config: dict[str, Any]
    split: Any
    chosen: list[Any]
    output: Any
    network: dict[str, Any]
    device: Any
    merge: dict[int, int]  # label value -> merged value (data.merge_labels, T1); empty: none
    options: RecipeOptions  # the typed view of ``config``, which stays the saved form


def resolve_run(
    dataset: Any,
    recipe: str | Path | Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
    device: Any,
    time_budget_minutes: float | None = None,
    folds: Sequence[int] | None = None,
) -> Resolved:
    """The resolved and fully checked run; raises :class:`MedSegError` naming the bad key."""
    from MedSegTrain.training.labelmerge import merged_dataset
    from MedSegTrain.training.splits import select_folds

    config = build_config(dataset, recipe, overrides, device.type, time_budget_minutes, folds)
    dataset, merge = merged_dataset(dataset, config["data"]["merge_labels"])
    split = make_split(dataset, config)
    chosen = select_folds(split, config["split"]["folds"])
    output = output_plan(config, dataset)
    network = network_spec(config, dataset.n_channels, output.n_channels)
    check_buildable(config, network, output, device)
    return Resolved(dataset, config, split, chosen, output, network, device, merge,
                    RecipeOptions.from_config(config))


def build_config(
    dataset: Any,
    recipe: str | Path | Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
    device_type: str,
    time_budget_minutes: float | None = None,
    folds: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Defaults <- data plan <- recipe <- overrides <- the recipe's ``by_mode`` keys for the resolved
    ``patch.mode`` (overrides again on top) <- explicit arguments, validated.

    A recipe that names ``preprocessing`` replaces the plan's preprocessing as a whole (keys it
    leaves out take the spec's defaults, e.g. no resampling); ``--set preprocessing.x`` still
    changes single keys.
    """
    from MedSegTrain.training.planning import plan_dataset

    config = cfgmod.defaults()
    config = cfgmod.merge(config, plan_dataset(dataset, device_type), "auto plan")
    by_mode: dict[str, dict[str, Any]] = {}
    source = "recipe auto"
    if not (isinstance(recipe, str) and recipe == "auto"):
        raw = cfgmod.read_recipe(recipe)
        source = f"recipe {raw.get('name', recipe)}"
        by_mode = cfgmod.take_mode_sections(raw, source)
        config = cfgmod.apply(config, raw, source)
        if "preprocessing" in raw:  # a recipe's preprocessing is the paper's: no plan value leaks in (X6)
            config["preprocessing"] = dict(raw["preprocessing"] or {})
    else:
        config["name"] = "auto"
    if overrides:
        config = cfgmod.apply(config, overrides, "--set")
    mode = config["patch"]["mode"]
    if by_mode.get(mode):  # the recipe's keys for the resolved mode; --set still has the last word
        config = cfgmod.apply(config, by_mode[mode], f"{source} {cfgmod.MODE_SECTION}.{mode}")
        if overrides:
            config = cfgmod.apply(config, overrides, "--set")
    config = cfgmod.fit_unet_layout(config)
    if time_budget_minutes is not None:
        config["training"]["time_budget_minutes"] = time_budget_minutes
    if folds is not None:
        config["split"]["folds"] = [int(f) for f in folds]
    return cfgmod.validate(config, "training config")


def make_split(dataset: Any, config: Mapping[str, Any]) -> Split:
    """The split the config asks for, seeded by ``split.seed`` (else ``seed``)."""
    s = config["split"]
    ids = [c.case_id for c in dataset.training]
    rng = np.random.default_rng(cfgmod.split_seed(config))
    if s["kind"] == "fixed":
        return fixed_split(ids, s["train_fraction"], rng)
    if s["kind"] == "robustness":
        from MedSegTrain.io import read_header

        key = {}
        for case in dataset.training:
            geometry = read_header(case.images[0]).geometry
            key[case.case_id] = geometry.size[-1] if s["robustness_key"] == "slices" else geometry.spacing[-1]
        return robustness_split(ids, s["n_folds"], key)
    return kfold_split(ids, s["n_folds"], s["test_fraction"], rng)


def output_plan(config: Mapping[str, Any], dataset: Any) -> Any:
    """The output channels the config asks for on this dataset (softmax labels or sigmoid regions)."""
    from MedSegTrain.training.targets import OutputPlan

    return OutputPlan.from_config(config["output"], dataset.labels, dataset.regions)


def network_spec(config: dict[str, Any], n_channels: int, n_classes: int) -> dict[str, Any]:
    """The network as the bundle stores it; completes ``config['network']['args']`` in place.

    ``network.args.encoder_weights`` (T3: a local ImageNet weights file) moves to
    ``network.encoder_weights``: it initialises training only, a bundle never needs the file.
    """
    args = dict(config["network"]["args"])
    weights = args.pop("encoder_weights", None)
    if weights is not None:
        config["network"]["encoder_weights"] = str(weights)
    args.update(
        spatial_dims=2 if config["patch"]["mode"] == "2d" else 3,
        in_channels=n_channels,
        out_channels=n_classes,
    )
    if config["loss"]["deep_supervision"]:
        args.setdefault("deep_supervision", True)
    config["network"]["args"] = args
    return {"name": config["network"]["name"], "args": args}


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
