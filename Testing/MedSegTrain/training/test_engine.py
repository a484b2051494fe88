"""The training loop: overfitting a phantom, resume equivalence, NaN stop, time budget, SWA mean (B7)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.training.checkpoint import LAST, load_checkpoint
from MedSegTrain.training.engine import FoldTrainer, autocast_dtype


def _dice_on(case, weights, config, net) -> float:
    """Mean Dice of labels 1 and 2 re-predicted with MONAI's sliding window (independent of ours)."""
    from monai.inferers import sliding_window_inference

    from MedSegTrain.networks import get_network

    model = get_network(net["name"], **net["args"])
    model.load_state_dict(weights)
    model.eval()
    with torch.no_grad():
        image = torch.from_numpy(np.array(case.image, dtype=np.float32))[None]
        logits = sliding_window_inference(image, config["patch"]["size"], 4, model, mode="gaussian")
    pred = logits[0].argmax(0)
    ref = torch.from_numpy(np.asarray(case.label, dtype=np.int64))
    dice = [2.0 * float(((pred == k) & (ref == k)).sum()) / float((pred == k).sum() + (ref == k).sum())
            for k in (1, 2)]
    return float(np.mean(dice))


def test_overfits_one_phantom_case(blob_cases: list, tmp_path: Path, tiny, make_job, tiny_net) -> None:
    torch.set_num_threads(2)
    config = tiny(
        training={"epochs": 7, "iterations_per_epoch": 10, "val_every": 7},
        patch={"foreground_fraction": 0.0, "batch_size": 1},
        optimizer={"lr": 1e-2},
    )
    result = FoldTrainer(make_job(config, blob_cases[:1], blob_cases[:1], tmp_path)).run()
    dice = _dice_on(
        blob_cases[0], result.weights, config, tiny_net
    )  # independent re-prediction of the saved weights
    assert dice > 0.95, f"70 steps on one case should overfit it, got Dice {dice:.3f}"
    assert result.metrics["dice"] == pytest.approx(dice, abs=1e-6)
    assert result.stop_reason == "epochs done"
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,phase,train_loss,lr,seconds") and len(rows) == 8
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_reaches_the_same_weights(blob_cases: list, tmp_path: Path, tiny, make_job) -> None:
    config = tiny()
    straight = FoldTrainer(make_job(config, blob_cases[:3], blob_cases[3:4], tmp_path / "a")).run()
    first = FoldTrainer(
        make_job(config, blob_cases[:3], blob_cases[3:4], tmp_path / "b", stop_after_epochs=1)
    ).run()
    assert first.stop_reason == "paused" and first.epochs_done == 1
    resumed = FoldTrainer(
        make_job(config, blob_cases[:3], blob_cases[3:4], tmp_path / "b", resume=True)
    ).run()
    assert resumed.epochs_done == 3
    for key, value in straight.weights.items():
        assert torch.equal(value, resumed.weights[key]), key
    assert [r["train_loss"] for r in straight.history] == [r["train_loss"] for r in resumed.history]


def test_resume_with_other_settings_is_refused(blob_cases: list, tmp_path: Path, tiny, make_job) -> None:
    FoldTrainer(
        make_job(
            tiny(training={"epochs": 1, "iterations_per_epoch": 1}),
            blob_cases[:2],
            blob_cases[2:3],
            tmp_path,
            stop_after_epochs=1,
        )
    ).run()
    other = tiny(training={"epochs": 1, "iterations_per_epoch": 1}, optimizer={"lr": 0.5})
    with pytest.raises(MedSegError, match="different recipe"):
        FoldTrainer(make_job(other, blob_cases[:2], blob_cases[2:3], tmp_path, resume=True)).run()


def test_nan_loss_stops_and_keeps_last_good_checkpoint(
    blob_cases: list, tmp_path: Path, tiny, make_job
) -> None:
    config = tiny(training={"epochs": 3, "iterations_per_epoch": 2, "grad_clip": None})
    trainer = FoldTrainer(make_job(config, blob_cases[:2], blob_cases[2:3], tmp_path, stop_after_epochs=1))
    trainer.run()
    good = load_checkpoint(tmp_path / "checkpoint" / LAST)
    trainer = FoldTrainer(make_job(config, blob_cases[:2], blob_cases[2:3], tmp_path, resume=True))
    trainer.loss_fn = lambda out, target: out.sum() * float("nan")  # a diverged loss
    with pytest.raises(MedSegError, match=r"training loss became nan at epoch 2.*last good checkpoint"):
        trainer.run()
    kept = load_checkpoint(tmp_path / "checkpoint" / LAST)
    assert kept["epoch"] == good["epoch"] == 1
    assert all(torch.equal(kept["model"][k], good["model"][k]) for k in good["model"])


def test_time_budget_stops_cleanly_with_best_model(blob_cases: list, tmp_path: Path, tiny, make_job) -> None:
    config = tiny(training={"epochs": 1000, "iterations_per_epoch": 5})
    result = FoldTrainer(make_job(config, blob_cases[:2], blob_cases[2:3], tmp_path, time_budget_s=0.5)).run()
    # How many 5-step epochs fit in 0.5 s depends on the machine; the budget must stop it long before 1000.
    assert result.stop_reason == "time budget" and 1 <= result.epochs_done < 1000
    assert 1 <= result.metrics["best_epoch"] <= result.epochs_done and "dice" in result.metrics
    assert load_checkpoint(tmp_path / "checkpoint" / LAST)["finished"]


def test_swa_weights_are_the_mean_of_the_snapshots(blob_cases: list, tmp_path: Path, tiny, make_job) -> None:
    snapshots: list[dict[str, torch.Tensor]] = []
    config = tiny(
        training={"epochs": 1, "iterations_per_epoch": 2},
        swa={"enabled": True, "cycles": 2, "cycle_epochs": 2, "snapshot_every": 1},
    )
    result = FoldTrainer(
        make_job(config, blob_cases[:2], blob_cases[2:3], tmp_path, on_snapshot=snapshots.append)
    ).run()
    assert len(snapshots) == 4  # 2 cycles x 2 epochs, one snapshot per epoch
    assert result.epochs_done == 5
    for key, value in result.weights.items():
        if value.is_floating_point() and "running" not in key:
            mean = torch.stack([s[key] for s in snapshots]).mean(0)
            torch.testing.assert_close(value, mean, rtol=1e-5, atol=1e-7)
    lrs = [r["lr"] for r in result.history if r["phase"] == "swa"]
    restart = 0.5 * 3e-3
    # the rate at each SWA epoch's last step: cosine within each 2-epoch cycle, restarted (B7)
    assert lrs[0] == pytest.approx(0.5 * restart * (1 + math.cos(math.pi * 0.25)))
    assert lrs[2] == pytest.approx(lrs[0])


def test_autocast_choices() -> None:
    """CPU ``auto`` is float32 (reproducible); bf16 only when asked. Kills 'auto -> bf16 on CPU'."""
    cpu = torch.device("cpu")
    assert autocast_dtype("none", cpu) is None
    assert autocast_dtype("auto", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    with pytest.raises(MedSegError, match="fp16 needs a CUDA device"):
        autocast_dtype("fp16", cpu)


def test_two_default_trainings_with_one_seed_give_identical_weights(
    blob_cases: list, tmp_path: Path, tiny, make_job
) -> None:
    """Issue 17.5: the default settings (``training.amp = auto``, threads unset) are reproducible."""
    config = tiny(training={"epochs": 2, "iterations_per_epoch": 3})
    assert config["training"]["amp"] == "auto" and config["training"]["threads"] is None
    runs = [FoldTrainer(make_job(config, blob_cases[:2], blob_cases[2:3], tmp_path / n)).run() for n in "ab"]
    assert runs[0].weights.keys() == runs[1].weights.keys()
    for key, value in runs[0].weights.items():
        assert torch.equal(value, runs[1].weights[key]), key


def test_nan_in_the_first_epoch_says_no_checkpoint_was_saved(
    blob_cases: list, tmp_path: Path, tiny, make_job
) -> None:
    """The message named ``checkpoint/last.pt`` although nothing had been saved yet (issue 17.5)."""
    config = tiny(training={"epochs": 2, "iterations_per_epoch": 2})
    trainer = FoldTrainer(make_job(config, blob_cases[:2], blob_cases[2:3], tmp_path))
    trainer.loss_fn = lambda out, target: out.sum() * float("nan")
    with pytest.raises(MedSegError, match="training loss became nan at epoch 1") as raised:
        trainer.run()
    assert "No checkpoint was saved yet" in str(raised.value) and "last.pt" not in str(raised.value)
    assert not (tmp_path / "checkpoint" / LAST).exists()
