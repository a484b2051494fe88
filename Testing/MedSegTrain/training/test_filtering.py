"""B9 filtering: robust z-scores against hand-computed medians and MADs; a mislabelled case end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from MedSegTrain.training.filtering import flag_outliers, robust_z


def test_robust_z_hand_computed() -> None:
    losses = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "e": 100.0}
    # median 3, absolute deviations 2, 1, 0, 1, 97 -> MAD 1 -> scale 1.4826
    z = robust_z(losses)
    assert z["e"] == pytest.approx(97 / 1.4826)
    assert z["a"] == pytest.approx(-2 / 1.4826)
    assert flag_outliers(losses, 3.0) == ["e"]


def test_no_outliers_when_all_equal() -> None:
    assert flag_outliers(dict.fromkeys("abc", 0.5)) == []


def test_worst_first() -> None:
    losses = {f"c{i}": 1.0 + 0.01 * i for i in range(10)} | {"x": 5.0, "y": 9.0}
    assert flag_outliers(losses, 3.0) == ["y", "x"]


# --- end to end: a case with swapped labels is flagged, and the retrain leaves it out -----------------

FILTER_RUN = {
    "split": {"kind": "fixed", "train_fraction": 0.9, "folds": [0]},  # 7 of 8 cases train
    "training": {"epochs": 4, "iterations_per_epoch": 5},
    "patch": {"batch_size": 2},
    "network": {"args": {"base_filters": 4}},
    "optimizer": {"lr": 1e-2},
    "validation": {"max_cases": 1},
    "filtering": {"enabled": True, "retrain": True},  # z_threshold: the default 3
}


def _mislabelled_dataset(root: Path, blob_writer: Any) -> tuple[Path, list[str], str]:
    """8 blob cases, one of the split's training cases with its ball and box labels swapped."""
    import numpy as np
    import SimpleITK as sitk

    from MedSegTrain.data import load_dataset
    from MedSegTrain.training.api import build_config, make_split

    data = blob_writer(root, n_cases=8, seed=3)
    dataset = load_dataset(data)
    split = make_split(dataset, build_config(dataset, "auto", FILTER_RUN, "cpu"))
    train_ids = split.folds[0].train
    bad = train_ids[len(train_ids) // 2]
    path = str(next(c.label for c in dataset.training if c.case_id == bad))
    label = sitk.GetArrayFromImage(sitk.ReadImage(path))
    swapped = sitk.GetImageFromArray(np.choose(label, [0, 2, 1]).astype(np.uint8))
    swapped.CopyInformation(sitk.ReadImage(path))
    sitk.WriteImage(swapped, path)
    return data, train_ids, bad


def _spy_jobs(mp: pytest.MonkeyPatch) -> dict[str, Any]:
    """Record each FoldTrainer's job by the name of its output folder."""
    from MedSegTrain.training.engine import FoldTrainer

    jobs: dict[str, Any] = {}
    original = FoldTrainer.__init__

    def spy(self: Any, job: Any) -> None:
        original(self, job)
        jobs[Path(job.out_dir).name] = job

    mp.setattr(FoldTrainer, "__init__", spy)
    return jobs


def test_a_mislabelled_training_case_is_flagged_and_left_out_of_the_retrain(
    tmp_path: Path, blob_writer: Any
) -> None:
    import numpy as np
    import torch

    from MedSegTrain.bundle import load_bundle
    from MedSegTrain.training import train

    torch.set_num_threads(2)
    data, train_ids, bad = _mislabelled_dataset(tmp_path / "data", blob_writer)

    out = tmp_path / "run"
    with pytest.MonkeyPatch.context() as mp:
        jobs = _spy_jobs(mp)
        (bundle,) = train(data, out, overrides=FILTER_RUN, device="cpu")
    trained_on = {name: [c.case_id for c in job.train_cases] for name, job in jobs.items()}

    report = json.loads((out / "fold_0" / "filtering.json").read_text())
    assert sorted(report["losses"]) == sorted(train_ids)  # every training case scored, nothing else
    assert report["flagged"][0] == bad and report["retrained"] is True
    losses = np.array([report["losses"][c] for c in train_ids])
    median = np.median(losses)
    z = (losses - median) / (1.4826 * np.median(np.abs(losses - median)))
    assert sorted(report["flagged"]) == sorted(c for c, v in zip(train_ids, z, strict=True) if v > 3.0)
    assert report["losses"][bad] == max(losses)

    # The first run trained on every training case; the retrain in fold_0/filtered on all but the flagged.
    assert sorted(trained_on["fold_0"]) == sorted(train_ids)
    assert sorted(trained_on["filtered"]) == sorted(set(train_ids) - set(report["flagged"]))
    assert (out / "fold_0" / "filtered" / "log.csv").is_file()
    # The fold's bundle holds the retrained model, not the first one.
    weights = load_bundle(bundle).build_member(0, device="cpu").state_dict()
    retrained = torch.load(out / "fold_0" / "filtered" / "checkpoint" / "best.pt", weights_only=True)["model"]
    first = torch.load(out / "fold_0" / "checkpoint" / "best.pt", weights_only=True)["model"]
    assert all(torch.equal(v, retrained[k]) for k, v in weights.items())
    assert not all(torch.equal(v, first[k]) for k, v in weights.items())


def test_a_retraining_fold_shares_its_time_budget(tmp_path: Path, blob_writer: Any, fake_clock: Any) -> None:
    """With --time-budget the first run gets half the fold's time and the retrain what is left.

    On a fake clock (0.25 s per reading), so the result does not depend on how busy the machine is;
    it failed under load when it read the wall clock. Kills 'the retrain gets the whole fold budget'
    (mutation ``train-retrain-gets-whole-budget``).
    """
    import torch

    from MedSegTrain.training import train
    from MedSegTrain.training.api import BUDGET_RESERVE

    torch.set_num_threads(2)
    data, _train_ids, _bad = _mislabelled_dataset(tmp_path / "data", blob_writer)
    budget_min = 0.15
    run = {**FILTER_RUN, "training": {"epochs": 200, "iterations_per_epoch": 5}}
    with pytest.MonkeyPatch.context() as mp:
        jobs = _spy_jobs(mp)
        clock = fake_clock(0.25)
        train(data, tmp_path / "run", overrides=run, device="cpu", time_budget_minutes=budget_min)
    first, retrain = jobs["fold_0"].time_budget_s, jobs["filtered"].time_budget_s
    budget_s = 60 * budget_min
    # one clock reading (0.25 s) between the start and the fold's share; half of it for the first run
    assert first == pytest.approx((budget_s - 0.25) * (1 - BUDGET_RESERVE) / 2)
    # the retrain gets what the first run left of the fold's share (2 x first), not a share of its own
    assert first + retrain <= 2 * first
    assert clock.now <= 1.25 * budget_s  # 10.5 s here; with a whole fold budget for the retrain ~15 s
