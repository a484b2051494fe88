"""Every shipped recipe, resolved on a phantom dataset of its kind, runs its paper's pipeline (issue 18).

The values checked are the RESOLVED config (auto plan <- recipe <- overrides), the one training
would run and ``--print-config`` prints, compared with the papers' numbers (PAPERS.md IDs), not
with the YAML. One shrunk training per recipe runs end to end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

KINDS = {"mixup_paper": "prostate-mri", "transfer": "prostate-mri", "loss_paper": "kidney-ct",
         "ct_cues": "kidney-ct", "brats_a": "brain-mri", "brats_b": "brain-mri"}
# a recipe's other arm, reached with --set: (recipe, overrides)
VARIANTS = {"ct_cues@2d": ("ct_cues", {"patch.mode": "2d"})}

# (recipe, config key, the paper's value, ID)
PAPER = [
    ("mixup_paper", "preprocessing.fixed_size", [32, 320, 320], "X6"),  # 320 x 320 x 32
    ("mixup_paper", "preprocessing.target_spacing", None, "X6"),  # zero-pad slices, no resampling
    ("mixup_paper", "preprocessing.normalization", "zscore", "X6"),
    ("mixup_paper", "statistics.source", "per_volume", "X6"),
    ("mixup_paper", "network.args.increment", 14, "X5"),
    ("mixup_paper", "network.args.dropout", 0.5, "X5"),
    ("mixup_paper", "optimizer.lr", 5e-4, "X8"),
    ("mixup_paper", "optimizer.lookahead_k", 6, "X8"),
    ("mixup_paper", "patch.batch_size", 8, "X8"),
    ("mixup_paper", "training.epochs", 350, "X8"),
    ("mixup_paper", "split.train_fraction", 0.5, "X3"),
    ("mixup_paper", "mixup.alpha", 0.5, "X1"),
    ("loss_paper", "training.epochs", 500, "L6"),  # KiTS19: 500 epochs x 100 iterations
    ("loss_paper", "training.iterations_per_epoch", 100, "L6"),
    ("loss_paper", "optimizer.lr", 3e-4, "L6"),
    ("loss_paper", "schedule.min_lr", 1e-6, "L6"),
    ("loss_paper", "training.best_metric", "loss", "L6"),
    ("loss_paper", "patch.size", [80, 160, 160], "L3"),
    ("loss_paper", "patch.batch_size", 2, "L3"),
    ("loss_paper", "preprocessing.window", "ct-kits-clip", "L4"),  # [-79, 304] HU
    ("loss_paper", "preprocessing.target_spacing", [1.62, 1.62, 3.22], "L4"),
    ("transfer", "patch.slice_min_foreground", 200, "T1"),
    ("transfer", "data.merge_labels", "all", "T1"),  # CG + PZ -> one prostate region
    ("transfer", "patch.mode", "2d", "T1"),
    ("transfer", "preprocessing.n4", True, "T2"),
    ("transfer", "split.test_fraction", 0.2, "T4"),
    ("transfer", "split.n_folds", 5, "T4"),
    ("transfer", "optimizer.lr", 1e-3, "T6"),
    ("transfer", "schedule.name", "cosine", "T6"),
    ("transfer", "patch.batch_size", 16, "T6"),
    ("transfer", "training.epochs", 200, "T6"),
    ("transfer", "statistics.source", "training_set", "T6"),
    ("ct_cues", "preprocessing.window", "ct-percentile", "C1"),
    ("ct_cues", "statistics.source", "random_sample", "C2"),
    ("ct_cues", "patch.slice_sampling.n_slices", 16, "C3"),
    ("ct_cues", "patch.slice_sampling.exclude_background", True, "C3"),
    ("ct_cues", "preprocessing.inplane_size", [128, 128], "C3"),
    ("ct_cues", "preprocessing.target_spacing", None, "C3"),  # only the in-plane downsampling
    ("ct_cues", "split.kind", "robustness", "C7"),
    ("ct_cues", "augmentation.transforms",  # noise, slice skipping/interpolation, range shift, rotation
     ["affine", "slice_skip", "slice_interpolation", "intensity_range_shift", "gaussian_noise"], "C4"),
    ("ct_cues", "augmentation.batch_probability", 0.8, "C4"),  # 80 % of the 3D batches
    ("ct_cues", "augmentation.intensity_range_shift.p", 0.2, "C4"),  # range shift on 20 % of samples
    ("ct_cues", "augmentation.affine.rotate", [16.0], "C4"),  # up to 16 degrees
    ("ct_cues@2d", "augmentation.transforms", ["affine", "intensity_range_shift", "gaussian_noise"], "C4"),
    ("ct_cues@2d", "augmentation.batch_probability", 0.9, "C4"),  # 90 % of the 2D batches
    ("ct_cues@2d", "augmentation.intensity_range_shift.p", 0.2, "C4"),
    ("ct_cues@2d", "augmentation.affine.rotate", [16.0], "C4"),
    ("ct_cues@2d", "patch.slice_min_foreground", 0, "C3"),  # background slices excluded in 2D too
    ("ct_cues@2d", "patch.slice_sampling.n_slices", None, "C3"),  # whole slices, no 16-slice stacks
    ("ct_cues@2d", "patch.batch_size", 28, "C5"),  # the paper's 2D nnU-Net batch
    ("ct_cues@2d", "network.args.spatial_dims", 2, "C5"),
    ("brats_a", "network.args.norm", "group", "B1"),
    ("brats_a", "loss.name", "dice_squared", "B4"),
    ("brats_a", "preprocessing.normalization", "percentile-minmax", "B5"),
    ("brats_a", "patch.size", [128, 128, 128], "B5"),
    ("brats_a", "patch.foreground_fraction", 0.0, "B5"),  # random crops
    ("brats_a", "optimizer.name", "ranger", "B7"),
    ("brats_a", "schedule.start_fraction", 0.5, "B7"),  # cosine after 100 of 200 epochs
    ("brats_a", "training.epochs", 200, "B7"),
    ("brats_a", "patch.batch_size", 1, "B7"),
    ("brats_a", "swa.cycles", 5, "B7"),
    ("brats_a", "training.amp", "fp16_cuda", "B7"),
    ("brats_b", "network.args.norm", "instance", "B1"),
    ("brats_b", "loss.name", "dice", "B4"),  # denominator not squared
    ("brats_b", "preprocessing.normalization", "zscore-nonzero", "B5"),
    ("brats_b", "patch.foreground_fraction", 0.0, "B5"),
    ("brats_b", "optimizer.name", "adam", "B7"),
    ("brats_b", "patch.batch_size", 3, "B7"),
    ("brats_b", "swa.enabled", False, "B7"),
    ("brats_b", "training.best_metric", "loss", "B7"),
    ("brats_b", "training.amp", "fp16_cuda", "B7"),
]


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from MedSegTrain.data.phantoms import generate_phantom_dataset

    root = tmp_path_factory.mktemp("phantoms")
    return {kind: generate_phantom_dataset(kind, 6, root / kind, seed=1) for kind in set(KINDS.values())}


def _get(config: dict[str, Any], dotted: str) -> Any:
    """The value that runs: preprocessing keys as the spec built from the config holds them,
    augmentation keys as the built Augmenter holds them (``augmentation.<transform>.<option>``)."""
    if dotted.startswith("preprocessing."):
        from MedSegTrain.preprocessing.pipeline import PreprocessingSpec

        value = getattr(PreprocessingSpec.from_dict(config["preprocessing"]), dotted.split(".", 1)[1])
        if dotted == "preprocessing.window":
            return value.name
        return list(value) if isinstance(value, tuple) else value
    if dotted.startswith("augmentation."):
        from MedSegTrain.augment import build_augmentation

        built = build_augmentation(dict(config["augmentation"])).to_config()
        parts = dotted.split(".")[1:]
        if parts == ["batch_probability"]:
            return built["batch_probability"]
        if parts == ["transforms"]:
            return [entry["name"] for entry in built["transforms"]]
        return next(entry[parts[1]] for entry in built["transforms"] if entry["name"] == parts[0])
    node: Any = config
    for part in dotted.split("."):
        node = node[part]
    return node


@pytest.fixture(scope="module")
def resolved(phantoms: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Each recipe's resolved config on CPU (plan + recipe), computed once."""
    from MedSegTrain.training.api import resolved_config

    out = {recipe: resolved_config(phantoms[kind], recipe, device="cpu") for recipe, kind in KINDS.items()}
    for variant, (recipe, overrides) in VARIANTS.items():
        out[variant] = resolved_config(phantoms[KINDS[recipe]], recipe, device="cpu", overrides=overrides)
    return out


def _row_id(row: tuple[str, str, Any, str]) -> str:
    """``C4-augmentation.batch_probability``; a variant's rows end in its arm (``...-2d``)."""
    arm = row[0].partition("@")[2]
    return f"{row[3]}-{row[1]}" + (f"-{arm}" if arm else "")


@pytest.mark.parametrize(("recipe", "key", "paper", "cap"), PAPER, ids=[_row_id(r) for r in PAPER])
def test_resolved_recipe_has_the_papers_value(resolved: dict[str, dict[str, Any]], recipe: str, key: str,
                                              paper: Any, cap: str) -> None:
    value = _get(resolved[recipe], key)
    assert value == (pytest.approx(paper) if isinstance(paper, float) else paper), cap


@pytest.mark.parametrize("network", ["encoder_unet", "encoder_unetpp", "encoder_manet", "encoder_deeplabv3"])
def test_transfer_recipe_selects_every_t3_network(phantoms: dict[str, Path], network: str) -> None:
    """T3: --set network.name=... with an encoder picks each of the paper's four architectures."""
    from MedSegTrain.training.api import resolved_config

    config = resolved_config(phantoms["prostate-mri"], "transfer", device="cpu",
                             overrides={"network.name": network, "network.args.encoder": "efficientnet-b3"})
    assert config["network"]["name"] == network
    assert config["network"]["args"]["encoder"] == "efficientnet-b3"
    assert config["network"]["args"]["spatial_dims"] == 2 and config["patch"]["mode"] == "2d"


def test_print_config_writes_nothing_and_names_a_bad_key(phantoms: dict[str, Path], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """In process (the chain test below runs the entry point as a subprocess)."""
    from MedSegTrain.cli import main

    data, out = phantoms["prostate-mri"], tmp_path / "never"
    base = ["train", "--data", str(data), "--out", str(out), "--recipe", "mixup_paper", "--device", "cpu",
            "--print-config"]
    assert main([*base, "--set", "optimizer.lr=2e-4"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["optimizer"]["lr"] == 2e-4 and printed["preprocessing"]["fixed_size"] == [32, 320, 320]
    assert main([*base, "--set", "schedule.min_lr=.inf"]) != 0
    assert "schedule.min_lr" in capsys.readouterr().err
    assert main([*base, "--set", "training.amp=fp16"]) != 0
    assert "training.amp" in capsys.readouterr().err
    assert not out.exists()


def test_chain_print_config_prints_every_stage_and_writes_nothing(phantoms: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    from MedSegTrain.data.phantoms import generate_phantom_dataset

    site_a = str(phantoms["prostate-mri"])
    site_b = str(generate_phantom_dataset("prostate-mri", 6, tmp_path / "b", seed=2))
    out = tmp_path / "never"
    done = subprocess.run([sys.executable, "-m", "MedSegTrain", "chain", "--site", site_a, "--site", site_b,
                           "--out", str(out), "--device", "cpu", "--print-config"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    stages = json.loads(done.stdout)
    assert list(stages) == ["A", "A->B"]
    assert stages["A"]["transfer"]["init_bundle"] is None
    assert stages["A->B"]["transfer"]["init_bundle"] == "OUT/stage_0/fold_0/bundle"  # T5
    assert stages["A"]["patch"]["slice_min_foreground"] == 200  # T1, the chain's default recipe
    assert not out.exists()


def test_split_seed_and_training_seed_are_separate(phantoms: dict[str, Path]) -> None:
    """X3: N initialisations on one split: training.seed changes, the split does not."""
    from MedSegTrain.data import load_dataset
    from MedSegTrain.training.api import build_config, make_split

    ds = load_dataset(phantoms["prostate-mri"])
    runs = [build_config(ds, "mixup_paper", {"training": {"seed": s}}, "cpu") for s in (0, 1, 2)]
    assert len({tuple(make_split(ds, c).folds[0].train) for c in runs}) == 1
    old = [build_config(ds, "auto", {"seed": s, "split": {"kind": "fixed"}}, "cpu") for s in (0, 5)]
    assert make_split(ds, old[0]).folds[0].train != make_split(ds, old[1]).folds[0].train  # seed: both


SHRINK: dict[str, dict[str, Any]] = {
    "mixup_paper": {"preprocessing.fixed_size": [8, 64, 64], "patch.size": [64, 64], "patch.batch_size": 2},
    "transfer": {"preprocessing.n4": False, "patch.size": [64, 64], "patch.batch_size": 2,
                 "network.args.encoder": "resnet18", "split.n_folds": 2},
    "loss_paper": {"patch.size": [16, 32, 32], "preprocessing.target_spacing": [3.0, 3.0, 3.0],
                   "network.args.base_filters": 4},
    "ct_cues": {"preprocessing.inplane_size": [32, 32], "patch.size": [4, 32, 32],
                "patch.slice_sampling.n_slices": 4, "patch.batch_size": 2, "network.args.base_filters": 4,
                "split.n_folds": 2},
    "ct_cues@2d": {"patch.mode": "2d", "preprocessing.inplane_size": [32, 32], "patch.size": [32, 32],
                   "patch.batch_size": 2, "network.args.base_filters": 4, "split.n_folds": 2},
    "brats_a": {"network.args.base_filters": 4, "patch.size": [16, 32, 32], "split.n_folds": 2,
                "swa.cycles": 1, "swa.cycle_epochs": 1, "swa.snapshot_every": 1},
    "brats_b": {"network.args.base_filters": 4, "patch.size": [16, 32, 32], "split.n_folds": 2,
                "patch.batch_size": 1},
}


@pytest.mark.parametrize("recipe", sorted([*KINDS, *VARIANTS]))
def test_each_recipe_trains_end_to_end(phantoms: dict[str, Path], tmp_path: Path, recipe: str) -> None:
    import torch

    from MedSegTrain.bundle import load_bundle
    from MedSegTrain.training import train

    torch.set_num_threads(2)
    shrink = {**SHRINK[recipe], "split.folds": [0], "training.epochs": 1, "training.iterations_per_epoch": 1,
              "validation.max_cases": 1, "validation.evaluate_test": False}
    variant, recipe = recipe, VARIANTS.get(recipe, (recipe, {}))[0]
    data = phantoms[KINDS[recipe]]
    bundle = train(data, tmp_path / "run", recipe=recipe, overrides=shrink, device="cpu")[0]
    meta = load_bundle(bundle).meta
    assert meta["training"]["recipe"]["name"] == recipe
    if variant == "ct_cues@2d":  # C4/C5: the paper's 2D arm trains a 2D U-Net on slices
        assert meta["inference"]["mode"] == "slices2d" and meta["network"]["args"]["spatial_dims"] == 2
    if recipe == "transfer":  # T1: the phantom's central gland (1) + peripheral zone (2) -> one label 1
        assert meta["labels"] == {"background": 0, "central_gland+peripheral_zone": 1}
        assert meta["network"]["args"]["out_channels"] == 2
    if recipe in ("transfer", "ct_cues"):  # T6, C2: the fold's statistics travel with the model
        assert meta["preprocessing"]["normalization"] == "fixed-zscore"
        assert np.isfinite(meta["preprocessing"]["norm_params"]["mean"]).all()
