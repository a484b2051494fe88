"""The runner: a failing trial is recorded while the others finish; workers split the cores; resume
skips finished trials; submitit's local executor runs the same groups."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from MedSegTrain.errors import MedSegError
from MedSegTrain.workflows.experiments.runner import run_experiment, threads_per_trial
from MedSegTrain.workflows.experiments.spec import load_spec


def test_threads_per_trial() -> None:
    assert threads_per_trial(2, cores=8) == 4
    assert threads_per_trial(3, cores=8) == 2
    assert threads_per_trial(4, cores=2) == 1


def test_failing_trial_is_recorded_and_the_others_finish(tmp_path: Path, tiny: Any,
                                                         phantom_data: Path) -> None:
    spec = load_spec(tiny.write_spec(tmp_path / "s.yaml", folds=[0], seeds=[0], factors=[
        {"name": "loss", "arms": {"good": {}, "broken": {"loss.name": "no_such_loss"}}}]))
    out = tmp_path / "out"
    record = run_experiment(spec, phantom_data, out, device="cpu")
    status = {t["id"]: (t["status"], t["error"]) for t in record["trials"]}
    assert status["good_f0_s0"] == ("done", None)
    assert status["broken_f0_s0"][0] == "failed" and "no_such_loss" in status["broken_f0_s0"][1]
    assert (out / "trials" / "good_f0_s0" / "done").is_file()
    assert not (out / "trials" / "broken_f0_s0").exists()
    stored = json.loads((out / "experiment.json").read_text())
    assert [t["status"] for t in stored["trials"]] == ["done", "failed"]
    rows = json.loads((out / "cases.json").read_text())
    assert {r["trial"] for r in rows} == {"good_f0_s0"}
    # the fold's validation cases (split.json) x the two labels, each with its metrics
    split = json.loads((out / "train" / "good_f0_s0" / "split.json").read_text())
    val = next(f["val"] for f in split["folds"] if f["index"] == 0)
    assert sorted((r["case"], r["label"]) for r in rows) == sorted((c, lab) for c in val
                                                                   for lab in ("kidney", "tumour"))
    assert all(0.0 <= r["dice"] <= 1.0 for r in rows)
    summary = json.loads((out / "trials" / "good_f0_s0" / "summary.json").read_text())
    kidney = [r["dice"] for r in rows if r["label"] == "kidney"]
    assert math.isclose(summary["mean"]["kidney"]["dice"], sum(kidney) / len(kidney))
    # resume reruns only the failed trial (it fails again), the finished one is kept untouched
    before = (out / "trials" / "good_f0_s0" / "trial.json").stat().st_mtime_ns
    again = run_experiment(spec, phantom_data, out, device="cpu", resume=True)
    assert [t["status"] for t in again["trials"]] == ["done", "failed"]
    assert (out / "trials" / "good_f0_s0" / "trial.json").stat().st_mtime_ns == before


def test_workers_split_the_threads(tmp_path: Path, tiny: Any, phantom_data: Path) -> None:
    spec = load_spec(tiny.write_spec(tmp_path / "s.yaml", folds=[0, 1], seeds=[0],
                                     factors=[{"name": "lr", "key": "optimizer.lr", "values": [0.01]}]))
    record = run_experiment(spec, phantom_data, tmp_path / "out", workers=2, device="cpu")
    expected = max(1, (os.cpu_count() or 1) // 2)
    assert record["hardware"]["threads_per_trial"] == expected and record["hardware"]["workers"] == 2
    for trial in ("lr-0.01_f0_s0", "lr-0.01_f1_s0"):
        config = json.loads((tmp_path / "out" / "train" / trial / "config.json").read_text())
        assert config["training"]["threads"] == expected
    assert [t["status"] for t in record["trials"]] == ["done", "done"]


def test_refuses_a_second_run_without_resume_and_another_spec(tmp_path: Path, tiny: Any,
                                                              phantom_data: Path) -> None:
    spec = load_spec(tiny.write_spec(tmp_path / "s.yaml", folds=[0], seeds=[0], factors=[
        {"name": "loss", "arms": {"broken": {"loss.name": "no_such_loss"}}}]))
    run_experiment(spec, phantom_data, tmp_path / "out", device="cpu")
    with pytest.raises(MedSegError, match="pass --resume"):
        run_experiment(spec, phantom_data, tmp_path / "out", device="cpu")
    other = {**spec, "seeds": [1]}
    with pytest.raises(MedSegError, match="another spec"):
        run_experiment(other, phantom_data, tmp_path / "out", device="cpu", resume=True)


def test_submitit_local_executor(tmp_path: Path, tiny: Any, phantom_data: Path) -> None:
    pytest.importorskip("submitit", reason="submitit (the [cluster] extra) is not installed in this venv")
    spec = load_spec(tiny.write_spec(tmp_path / "s.yaml", folds=[0], seeds=[0],
                                     factors=[{"name": "lr", "key": "optimizer.lr", "values": [0.01]}]))
    record = run_experiment(spec, phantom_data, tmp_path / "out", executor="slurm", device="cpu",
                            slurm={"cluster": "local", "timeout_min": 5})
    assert [t["status"] for t in record["trials"]] == ["done"]
