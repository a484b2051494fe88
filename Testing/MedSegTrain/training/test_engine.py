"""The training loop: overfitting, resume, NaN stop, best-weight restore on scripted validations,
schedules with SWA after them, SWA snapshot timing and mean (B7), the time budget on a fake clock."""

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


# --- best weights, schedules, SWA timing, time budget: scripted and hand-computed expectations ---------


def _scripted(trainer: FoldTrainer, scores: dict[int, dict[str, float]]) -> dict[int, dict]:
    """Replace validation by ``scores[epoch]`` (1-based) and record the weights seen at each one."""
    seen: dict[int, dict] = {}

    def validate(model):
        epoch = int(trainer.state["epoch"]) + 1
        seen[epoch] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return {"n_cases": 1, **scores[epoch]}

    trainer._validate = validate
    return seen


# dice peaks at epoch 2, the loss is lowest at epoch 3 and highest at epoch 1: neither best is the
# first or the last epoch, and "keep the highest loss" picks epoch 1.
SCRIPT = {1: {"dice": 0.2, "loss": 0.9}, 2: {"dice": 0.8, "loss": 0.5},
          3: {"dice": 0.5, "loss": 0.2}, 4: {"dice": 0.6, "loss": 0.4}}


@pytest.mark.parametrize(("metric", "best"), [("dice", 2), ("loss", 3)])
def test_best_weights_are_restored_for_each_best_metric(
    blob_cases: list, tmp_path: Path, tiny, make_job, metric: str, best: int
) -> None:
    """Four validations, best in the middle. Kills: best never restored (last epoch returned),
    ``best_metric=loss`` keeping the highest loss, the comparison reversed, scoring by the wrong key
    (mutations ``train-best-not-restored``, ``train-best-loss-highest``)."""
    config = tiny(training={"epochs": 4, "iterations_per_epoch": 1, "val_every": 1, "best_metric": metric})
    trainer = FoldTrainer(make_job(config, blob_cases[:2], blob_cases[2:3], tmp_path))
    seen = _scripted(trainer, SCRIPT)
    result = trainer.run()
    assert sorted(seen) == [1, 2, 3, 4]
    assert result.metrics["best_epoch"] == best
    assert result.metrics["dice"] == SCRIPT[best]["dice"]
    for key, value in seen[best].items():
        assert torch.equal(result.weights[key], value), key
    assert not all(torch.equal(result.weights[k], v) for k, v in seen[4].items())
    saved = load_checkpoint(tmp_path / "checkpoint" / "best.pt")
    assert saved["epoch"] == best


def test_without_restore_best_the_last_weights_are_kept(
    blob_cases: list, tmp_path: Path, tiny, make_job
) -> None:
    config = tiny(training={"epochs": 3, "iterations_per_epoch": 1, "val_every": 1, "restore_best": False})
    trainer = FoldTrainer(make_job(config, blob_cases[:2], blob_cases[2:3], tmp_path))
    seen = _scripted(trainer, {**SCRIPT, 4: SCRIPT[3]})
    result = trainer.run()
    assert all(torch.equal(result.weights[k], v) for k, v in seen[3].items())  # the end-of-run validation


def test_best_weights_survive_a_resume(blob_cases: list, tmp_path: Path, tiny, make_job) -> None:
    """Paused after the best epoch (2), resumed for epochs 3-4: the bundle still holds epoch 2.
    Kills: ``best.pt`` not reloaded on resume (the resumed run would return epoch 4's weights;
    ``train-best-not-reloaded-on-resume``)."""
    config = tiny(training={"epochs": 4, "iterations_per_epoch": 1, "val_every": 1})
    first = FoldTrainer(make_job(config, blob_cases[:2], blob_cases[2:3], tmp_path, stop_after_epochs=2))
    seen = _scripted(first, SCRIPT)
    first.run()
    resumed = FoldTrainer(make_job(config, blob_cases[:2], blob_cases[2:3], tmp_path, resume=True))
    seen.update(_scripted(resumed, SCRIPT))
    result = resumed.run()
    assert result.metrics["best_epoch"] == 2 and result.epochs_done == 4
    assert all(torch.equal(result.weights[k], v) for k, v in seen[2].items())


def test_early_stopping_counts_validations_without_gain(
    blob_cases: list, tmp_path: Path, tiny, make_job
) -> None:
    """Dice 0.2, 0.8, 0.5, 0.6: with patience 2 the run stops after epoch 4 (two validations below 0.8)."""
    script = {**SCRIPT, 5: {"dice": 0.9, "loss": 0.1}}
    config = tiny(training={"epochs": 5, "iterations_per_epoch": 1, "val_every": 1, "early_stopping": 2})
    trainer = FoldTrainer(make_job(config, blob_cases[:2], blob_cases[2:3], tmp_path))
    _scripted(trainer, script)
    result = trainer.run()
    assert (result.stop_reason, result.epochs_done, result.metrics["best_epoch"]) == ("early stopping", 4, 2)


def test_cosine_reaches_its_minimum_over_the_main_epochs_when_swa_follows(
    blob_cases: list, tmp_path: Path, tiny, make_job
) -> None:
    """Progress counts the main epochs only (3 x 4 steps), not the SWA epochs after them.
    Kills: progress over main + SWA epochs (``train-cosine-over-swa-epochs``: the cosine would stop at
    11/20 of its way)."""
    base, low = 3e-3, 1e-4
    config = tiny(
        training={"epochs": 3, "iterations_per_epoch": 4},
        schedule={"name": "cosine", "min_lr": low},
        swa={"enabled": True, "cycles": 2, "cycle_epochs": 1, "snapshot_every": 1},
    )
    result = FoldTrainer(make_job(config, blob_cases[:2], blob_cases[2:3], tmp_path)).run()
    main = [r["lr"] for r in result.history if r["phase"] == "main"]
    # the rate of each epoch's last step s = 3, 7, 11 of 12: low + (base - low) (1 + cos(pi s / 12)) / 2
    expected = [low + (base - low) * 0.5 * (1 + math.cos(math.pi * s / 12)) for s in (3, 7, 11)]
    assert main == pytest.approx(expected, rel=1e-9)


def test_swa_snapshots_on_every_third_epoch_of_each_cycle(
    blob_cases: list, tmp_path: Path, tiny, make_job
) -> None:
    """B7 timing with a snapshot period that is neither 1 nor the cycle: 2 cycles x 4 epochs, every 3rd
    epoch of a cycle -> SWA epochs 3 and 7 (global 1-based epochs 5 and 9 after 2 main epochs).
    Kills: snapshots every epoch, off by one (epochs 4, 8 or 1, 4, 5, 8), counted over the phase
    (``train-swa-snapshot-off-by-one``, ``train-swa-snapshot-over-phase``)."""
    config = tiny(
        training={"epochs": 2, "iterations_per_epoch": 1},
        swa={"enabled": True, "cycles": 2, "cycle_epochs": 4, "snapshot_every": 3},
    )
    epochs: list[int] = []
    weights: list[dict] = []
    trainer = FoldTrainer(make_job(config, blob_cases[:2], blob_cases[2:3], tmp_path,
                                   on_snapshot=weights.append))
    trainer.job.on_snapshot = lambda w: (epochs.append(int(trainer.state["epoch"]) + 1), weights.append(w))
    result = trainer.run()
    assert epochs == [5, 9] and result.epochs_done == 10
    for key, value in result.weights.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, (weights[0][key] + weights[1][key]) / 2, rtol=1e-5, atol=1e-7)
    # restart rate 0.5 x 3e-3, cosine over 4 epochs; one step per epoch, taken at the epoch's start:
    # epoch k (0-based) of a cycle steps at 0.5 x rate x (1 + cos(pi k / 4))
    swa = [r["lr"] for r in result.history if r["phase"] == "swa"]
    expected = [0.5 * 1.5e-3 * (1 + math.cos(math.pi * k / 4)) for k in (0, 1, 2, 3)] * 2
    assert swa == pytest.approx(expected, abs=1e-12)


def test_resume_inside_the_swa_phase_reaches_the_same_average(
    blob_cases: list, tmp_path: Path, tiny, make_job
) -> None:
    """Paused after the first SWA snapshot: the running average and its count come back from the checkpoint.
    Kills: the average not saved or not reloaded, the SWA optimiser not rebuilt on resume."""
    config = tiny(
        training={"epochs": 1, "iterations_per_epoch": 2},
        swa={"enabled": True, "cycles": 2, "cycle_epochs": 2, "snapshot_every": 2},
    )
    train, val = blob_cases[:2], blob_cases[2:3]
    straight = FoldTrainer(make_job(config, train, val, tmp_path / "a")).run()
    FoldTrainer(make_job(config, train, val, tmp_path / "b", stop_after_epochs=3)).run()
    resumed = FoldTrainer(make_job(config, train, val, tmp_path / "b", resume=True)).run()
    assert resumed.epochs_done == straight.epochs_done == 5
    for key, value in straight.weights.items():
        assert torch.equal(value, resumed.weights[key]), key


def test_time_budget_on_a_fake_clock(blob_cases: list, tmp_path: Path, tiny, make_job, fake_clock) -> None:
    """0.1 s per clock reading, budget 6 s: the loop stops inside the budget (less the last validation's
    time), validates at the stop, and the poly schedule has decayed by time, not by the 5000 planned steps.
    Kills: the budget ignored by the schedule (rate stays ~base), no validation at the stop
    (``train-schedule-ignores-budget``, ``train-no-validation-at-budget-stop``)."""
    clock = fake_clock(0.1)
    base = 3e-3
    config = tiny(training={"epochs": 1000, "iterations_per_epoch": 5, "val_every": 1000},
                  schedule={"name": "poly", "power": 1.0})
    trainer = FoldTrainer(make_job(config, blob_cases[:2], blob_cases[2:3], tmp_path, time_budget_s=6.0))
    result = trainer.run()
    assert result.stop_reason == "time budget" and result.epochs_done < 10
    assert result.metrics["best_epoch"] == result.epochs_done  # validated when the budget stopped it
    assert 5.0 <= result.seconds <= 7.0 and clock.now < 8.0  # 6.6 s: the stop, then its validation
    assert result.history[-1]["lr"] < 0.15 * base  # progress ~ elapsed / budget -> rate near 0
    assert load_checkpoint(tmp_path / "checkpoint" / LAST)["finished"]
