"""Config schema, recipes and --set overrides: every shipped recipe validates; bad input names the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from MedSegTrain.errors import MedSegError
from MedSegTrain.training import config as cfg


def test_defaults_validate_and_every_key_has_a_default() -> None:
    config = cfg.validate(cfg.defaults())
    assert config["optimizer"]["lookahead_k"] == 6  # X8 default
    assert config["optimizer"]["lookahead_alpha"] == 0.5
    assert config["swa"]["cycle_epochs"] == 30 and config["swa"]["snapshot_every"] == 3  # B7


@pytest.mark.parametrize("name", [n for n in cfg.list_recipes() if n != "auto"])
def test_shipped_recipes_validate(name: str) -> None:
    raw = cfg.read_recipe(name)
    by_mode = cfg.take_mode_sections(raw, name)
    config = cfg.validate(cfg.apply(cfg.defaults(), raw, name))
    assert config["name"] == name
    assert config["papers"], "a shipped recipe names the paper IDs it reproduces"
    for mode, section in by_mode.items():
        cfg.validate(cfg.apply(config, section, f"{name} by_mode.{mode}"))


def test_paper_values_in_recipes() -> None:
    mixup = cfg.read_recipe("mixup_paper")
    assert mixup["optimizer"]["lr"] == 5.0e-4 and mixup["optimizer"]["lookahead"]  # X8
    assert mixup["mixup"]["alpha"] == 0.5 and mixup["patch"]["batch_size"] == 8  # X1, X8
    assert mixup["split"] == {"kind": "fixed", "train_fraction": 0.5, "test_fraction": 0.0, "seed": 0}  # X3
    brats = cfg.read_recipe("brats_a")
    assert brats["optimizer"]["name"] == "ranger" and brats["optimizer"]["lr"] == 1.0e-4  # B7
    assert brats["schedule"] == {"name": "cosine_after", "start_fraction": 0.5}
    assert brats["swa"]["lr_factor"] == 0.5 and brats["swa"]["cycles"] == 5
    loss = cfg.read_recipe("loss_paper")
    assert loss["optimizer"]["lr"] == 3.0e-4 and loss["schedule"]["min_lr"] == 1.0e-6  # L6
    assert loss["training"]["best_metric"] == "loss"


def test_unknown_key_suggests_the_nearest() -> None:
    with pytest.raises(MedSegError, match=r"unknown config key 'optimizer.lrr'.*did you mean 'lr'"):
        cfg.merge(cfg.defaults(), {"optimizer": {"lrr": 1e-3}}, "--set")


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"optimizer": {"name": "adagrad"}}, r"'optimizer.name' is 'adagrad'; choose one of adam"),
        ({"optimizer": {"lr": -1.0}}, r"'optimizer.lr' is -1.0; it must be >= 0"),
        ({"training": {"epochs": "ten"}}, r"'training.epochs' must be int, got 'ten'"),
        ({"training": {"epochs": True}}, r"'training.epochs' must be int"),
        ({"patch": {"size": [64, 0, 64]}}, r"'patch.size' must be a list of positive integers"),
        ({"patch": {"mode": "2d", "size": [8, 64, 64]}}, r"patch.size \[8, 64, 64\] does not fit"),
        ({"split": {"folds": "some"}}, r"'split.folds' must be 'all' or a list"),
        ({"mixup": {"alpha": None}}, r"'mixup.alpha' may not be empty"),
    ],
)
def test_bad_values_name_the_key(update: dict, message: str) -> None:
    with pytest.raises(MedSegError, match=message):
        cfg.validate(cfg.merge(cfg.defaults(), update, "recipe x"))


def test_integers_are_accepted_where_numbers_are_expected() -> None:
    config = cfg.validate(cfg.merge(cfg.defaults(), {"optimizer": {"lr": 1}}, "x"))
    assert config["optimizer"]["lr"] == 1.0 and isinstance(config["optimizer"]["lr"], float)


def test_parse_overrides_types() -> None:
    parsed = cfg.parse_overrides(
        [
            "optimizer.lr=3e-4",
            "mixup.alpha=0.5",
            "training.amp=bf16",
            "patch.size=[32, 64, 64]",
            "training.early_stopping=null",
            "loss.deep_supervision=true",
        ]
    )
    assert parsed == {
        "optimizer": {"lr": 3e-4},
        "mixup": {"alpha": 0.5},
        "training": {"amp": "bf16", "early_stopping": None},
        "patch": {"size": [32, 64, 64]},
        "loss": {"deep_supervision": True},
    }


@pytest.mark.parametrize("item", ["optimizer.lr", "=3", ""])
def test_parse_overrides_rejects_malformed(item: str) -> None:
    with pytest.raises(MedSegError, match="expected KEY=VALUE"):
        cfg.parse_overrides([item])


def test_recipe_files_yaml_and_json(tmp_path: Path) -> None:
    (tmp_path / "mine.json").write_text(json.dumps({"optimizer": {"lr": 0.01}}))
    assert cfg.read_recipe(tmp_path / "mine.json") == {"optimizer": {"lr": 0.01}, "name": "mine"}
    (tmp_path / "bad.yaml").write_text("optimizer: [unclosed\n")
    with pytest.raises(MedSegError, match=r"bad.yaml: not valid YAML"):
        cfg.read_recipe(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(MedSegError, match="top level must be a mapping"):
        cfg.read_recipe(tmp_path / "list.yaml")
    with pytest.raises(MedSegError, match=r"--recipe 'nope': no such recipe file or name.*mixup_paper"):
        cfg.read_recipe("nope")


def test_a_new_loss_drops_the_old_losses_options() -> None:
    """brats sets dice_squared {smooth: 1}; switching to a sum must not carry 'smooth' into it."""
    brats = cfg.apply(cfg.defaults(), cfg.read_recipe("brats_a"), "brats")
    assert brats["loss"]["params"] == {"smooth": 1.0}
    switched = cfg.apply(brats, {"loss": {"name": "dice_squared+ce", "params": {"ce": {}}}}, "--set")
    assert switched["loss"]["params"] == {"ce": {}}
    same = cfg.apply(brats, {"loss": {"name": "dice_squared", "params": {"batch": False}}}, "--set")
    assert same["loss"]["params"] == {"smooth": 1.0, "batch": False}  # same loss: options add up


def test_by_mode_sections_are_checked_like_the_recipe() -> None:
    with pytest.raises(MedSegError, match=r"r by_mode\.2d: unknown config key 'patch\.batch_sise'"):
        cfg.take_mode_sections({"by_mode": {"2d": {"patch": {"batch_sise": 4}}}}, "r")
    with pytest.raises(MedSegError, match="'by_mode' must map '2d' and/or '3d'"):
        cfg.take_mode_sections({"by_mode": {"2.5d": {}}}, "r")
    raw = {"name": "r", "by_mode": {"3d": {"patch": {"batch_size": 1}}}}
    assert cfg.take_mode_sections(raw, "r") == {"3d": {"patch": {"batch_size": 1}}}
    assert "by_mode" not in raw  # not a config key: the resolved config holds its values instead


def test_by_mode_applies_to_the_resolved_mode_and_set_still_wins(blob_dataset: Path) -> None:
    from MedSegTrain.data import load_dataset
    from MedSegTrain.training.api import build_config

    ds = load_dataset(blob_dataset)
    recipe = {"name": "r", "patch": {"mode": "3d", "size": [16, 32, 32], "batch_size": 2},
              "by_mode": {"2d": {"patch": {"batch_size": 28}, "augmentation": {"preset": "ct_cues_2d"}}}}
    assert build_config(ds, recipe, None, "cpu")["patch"]["batch_size"] == 2  # 3D: the section is idle
    two_d = build_config(ds, recipe, {"patch": {"mode": "2d"}}, "cpu")
    assert two_d["patch"]["batch_size"] == 28 and two_d["augmentation"] == {"preset": "ct_cues_2d"}
    mine = build_config(ds, recipe, {"patch": {"mode": "2d", "batch_size": 4}}, "cpu")
    assert mine["patch"]["batch_size"] == 4 and mine["augmentation"] == {"preset": "ct_cues_2d"}


def test_a_unet_planned_in_3d_is_re_planned_for_a_2d_patch() -> None:
    from MedSegTrain.networks import plan_unet

    config = cfg.defaults()
    config["patch"].update(mode="2d", size=[64, 96])
    config["network"] = {"name": "unet", "encoder_weights": None,
                         "args": {"base_filters": 8, **plan_unet([16, 64, 64], [3.0, 1.0, 1.0])}}
    fitted = cfg.fit_unet_layout(config)
    assert {k: fitted["network"]["args"][k] for k in ("kernel_size", "strides")} == plan_unet([64, 96])
    assert fitted["network"]["args"]["base_filters"] == 8
    assert len(config["network"]["args"]["kernel_size"][0]) == 3  # the input is left as it was
    config["patch"].update(mode="3d", size=[16, 64, 64])
    assert cfg.fit_unet_layout(config) is config  # a layout that fits its mode stays (it is the plan's)
