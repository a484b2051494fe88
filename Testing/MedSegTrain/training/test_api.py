"""``training.train``: output layout, a loadable bundle per fold with the contract's model.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from MedSegTrain.bundle import load_bundle
from MedSegTrain.errors import MedSegError
from MedSegTrain.training import train

FAST = {
    "split.folds": "all",
    "training.epochs": 1,
    "training.iterations_per_epoch": 2,
    "patch.batch_size": 2,
    "network.args.base_filters": 4,
    "validation.max_cases": 1,
    "split.n_folds": 2,
}


@pytest.fixture(scope="module")
def trained(blob_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    torch.set_num_threads(2)
    out = tmp_path_factory.mktemp("run")
    return out, train(blob_dataset, out, overrides=FAST, device="cpu")


def test_output_layout(trained: tuple[Path, list[Path]]) -> None:
    out, bundles = trained
    assert bundles == [out / "fold_0" / "bundle", out / "fold_1" / "bundle"]
    for k in (0, 1):
        fold = out / f"fold_{k}"
        assert (fold / "checkpoint" / "last.pt").is_file() and (fold / "checkpoint" / "best.pt").is_file()
        assert (fold / "log.csv").is_file() and (fold / "curves.png").is_file()
        assert json.loads((fold / "metrics.json").read_text())["stop_reason"] == "epochs done"
    split = json.loads((out / "split.json").read_text())
    assert len(split["test"]) == 1 and len(split["folds"]) == 2  # 20 % of 6 patients held out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_cases"] == split["test"] and 0.0 <= summary["test"]["dice"] <= 1.0
    config = json.loads((out / "config.json").read_text())
    assert config["network"]["args"]["base_filters"] == 4 and config["name"] == "auto"


def test_bundle_follows_the_contract(trained: tuple[Path, list[Path]], blob_dataset: Path) -> None:
    out, bundles = trained
    bundle = load_bundle(bundles[1])
    meta = bundle.meta
    assert meta["labels"] == {"background": 0, "ball": 1, "box": 2}
    assert meta["network"]["name"] == "unet"
    assert meta["network"]["args"]["in_channels"] == 1 and meta["network"]["args"]["out_channels"] == 3
    assert meta["inference"] == {"mode": "sliding_window", "patch_size": [16, 24, 24], "overlap": 0.5}
    assert meta["members"][0]["fold"] == 1
    assert meta["training"]["recipe"]["optimizer"]["name"] == "adam"
    assert "dice" in meta["training"]["validation_metrics"]
    model = bundle.build_member(0)
    best = torch.load(out / "fold_1" / "checkpoint" / "best.pt", weights_only=True)["model"]
    for key, value in model.state_dict().items():
        assert torch.equal(value, best[key]), key  # the bundle holds the best validation weights
    x = torch.from_numpy(np.zeros((1, 1, 16, 24, 24), np.float32))
    assert model(x).shape == (1, 3, 16, 24, 24)


def test_second_run_without_resume_is_refused(trained: tuple[Path, list[Path]], blob_dataset: Path) -> None:
    out, _ = trained
    with pytest.raises(MedSegError, match=r"fold 0 already has a training run there; pass --resume"):
        train(blob_dataset, out, overrides=FAST, device="cpu")


def test_resume_of_finished_run_returns_the_bundles(
    trained: tuple[Path, list[Path]], blob_dataset: Path
) -> None:
    out, bundles = trained
    before = (bundles[0] / "fold0.safetensors").read_bytes()
    assert train(blob_dataset, out, overrides=FAST, device="cpu", resume=True, folds=[0]) == [bundles[0]]
    assert (bundles[0] / "fold0.safetensors").read_bytes() == before


def test_bad_inputs(blob_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(MedSegError, match="dataset not found"):
        train(tmp_path / "missing", tmp_path / "o")
    with pytest.raises(MedSegError, match=r"unknown config key 'optimizer.lrr'"):
        train(blob_dataset, tmp_path / "o", overrides={"optimizer.lrr": 1})
    with pytest.raises(MedSegError, match=r"--fold 7: out of range"):
        train(blob_dataset, tmp_path / "o", folds=[7], device="cpu")
    with (
        pytest.raises(MedSegError, match="CUDA is not available")
        if not torch.cuda.is_available()
        else pytest.raises(MedSegError, match="--device")
    ):
        train(blob_dataset, tmp_path / "o", device="cuda" if not torch.cuda.is_available() else "tpu")
