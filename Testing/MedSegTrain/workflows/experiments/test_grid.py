"""Grid expansion: every arm x fold x seed, stable readable IDs, one training per inference arm group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from MedSegTrain.workflows.experiments.grid import expand, slug
from MedSegTrain.workflows.experiments.spec import load_spec


def test_ids_and_order(tmp_path: Path, tiny: Any) -> None:
    spec = load_spec(tiny.write_spec(tmp_path / "s.yaml", folds=[1, 3], seeds=[7]))
    trials = expand(spec)
    assert [t.id for t in trials] == ["lr-0.001_f1_s7", "lr-0.001_f3_s7", "lr-0.01_f1_s7", "lr-0.01_f3_s7"]
    assert [(t.arm, t.factors, t.fold, t.seed) for t in trials][2] == ("lr=0.01", {"lr": 0.01}, 1, 7)
    assert trials[2].overrides == {"optimizer.lr": 0.01} and trials[2].inference == {}
    assert [t.id for t in expand(spec)] == [t.id for t in trials]  # stable


def test_inference_factor_shares_the_training(tmp_path: Path, tiny: Any) -> None:
    spec = load_spec(tiny.write_spec(tmp_path / "s.yaml", folds=[0], seeds=[0], factors=[
        {"name": "loss", "arms": {"dice": {"loss.name": "dice"}, "focal ce": {"loss.name": "focal"}}},
        {"name": "tta", "key": "inference.tta", "values": [0, 8]}]))
    trials = expand(spec)
    assert [(t.id, t.train_id) for t in trials] == [
        ("dice_tta-0_f0_s0", "dice_f0_s0"), ("dice_tta-8_f0_s0", "dice_f0_s0"),
        ("focal-ce_tta-0_f0_s0", "focal-ce_f0_s0"), ("focal-ce_tta-8_f0_s0", "focal-ce_f0_s0")]
    assert trials[1].inference == {"tta": 8} and trials[1].overrides == {"loss.name": "dice"}
    assert trials[3].arm == "focal ce, tta=8" and trials[3].factors == {"loss": "focal ce", "tta": 8}


def test_slug() -> None:
    assert slug("alpha=0.2, loss=dice") == "alpha-0.2_loss-dice"
    assert slug("a/b: c") == "a-b-c"
