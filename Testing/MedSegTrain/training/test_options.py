"""RecipeOptions: one frozen, typed view per validated config, exactly the schema's keys."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from MedSegTrain.errors import MedSegError
from MedSegTrain.training import config as cfgmod
from MedSegTrain.training.optim import OPTIMIZERS
from MedSegTrain.training.options import RecipeOptions
from MedSegTrain.training.schedules import SCHEDULES

SHIPPED = [name for name in cfgmod.list_recipes() if name != "auto"]


def _validated(recipe: str) -> dict[str, Any]:
    raw = cfgmod.read_recipe(recipe)
    cfgmod.take_mode_sections(raw, recipe)
    return cfgmod.validate(cfgmod.apply(cfgmod.defaults(), raw, recipe), recipe)


def _keys(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: _keys(v) if isinstance(v, dict) else None for k, v in schema.items()}


def _fields(cls: type) -> dict[str, Any]:
    import typing

    hints = typing.get_type_hints(cls)
    return {f.name: _fields(hints[f.name]) if dataclasses.is_dataclass(hints[f.name]) else None
            for f in dataclasses.fields(cls)}


def test_sections_have_exactly_the_schema_keys():
    assert _fields(RecipeOptions) == _keys(cfgmod.SCHEMA)


@pytest.mark.parametrize("recipe", SHIPPED)
def test_built_from_each_shipped_recipe_holds_its_values(recipe):
    config = _validated(recipe)
    options = RecipeOptions.from_config(config)
    assert options.name == config["name"]
    assert options.patch.mode == config["patch"]["mode"]
    assert options.patch.size == tuple(config["patch"]["size"])
    assert options.optimizer.lr == config["optimizer"]["lr"]
    assert options.optimizer.betas == tuple(config["optimizer"]["betas"])
    assert options.schedule.name == config["schedule"]["name"]
    assert dict(options.loss.params).keys() == config["loss"]["params"].keys()
    assert options.split_seed == cfgmod.split_seed(config)
    seed = config["training"]["seed"]
    assert options.training_seed == (config["seed"] if seed is None else seed)


def test_frozen_all_the_way_down_and_the_dict_left_alone():
    config = cfgmod.validate({"network": {"args": {"features": [8, 16]}}, "seed": 3,
                              "split": {"seed": 11}})
    options = RecipeOptions.from_config(config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.patch.batch_size = 9  # type: ignore[misc]
    with pytest.raises(TypeError):
        options.network.args["features"] = [1]  # type: ignore[index]
    assert options.network.args["features"] == (8, 16)
    assert config["network"]["args"]["features"] == [8, 16]  # still the saved form
    assert (options.split_seed, options.training_seed) == (11, 3)


def test_an_unvalidated_dict_is_refused():
    config = cfgmod.validate({})
    del config["patch"]["slice_sampling"]["n_slices"]
    with pytest.raises(MedSegError, match=r"patch\.slice_sampling"):
        RecipeOptions.from_config(config)


def test_a_wrong_value_names_the_option():
    with pytest.raises(MedSegError, match=r"config key .optimizer\.name.*adam, adamw, sgd, radam, ranger"):
        RecipeOptions.from_config(cfgmod.validate({"optimizer": {"name": "lion"}}))


def test_schema_choices_come_from_the_registries():
    assert cfgmod.SCHEMA["optimizer"]["name"].choices == tuple(OPTIMIZERS)
    assert cfgmod.SCHEMA["schedule"]["name"].choices == tuple(SCHEDULES)
    assert set(OPTIMIZERS) == {"adam", "adamw", "sgd", "radam", "ranger"}
    assert set(SCHEDULES) == {"constant", "cosine", "cosine_after", "poly"}
