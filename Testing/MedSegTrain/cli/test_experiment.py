"""`medsegtrain experiment run`: a tiny phantom grid end to end; SIGKILL mid-way then --resume gives
the same table as an uninterrupted run; bad specs fail with one clear line."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as scipy_stats

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # what the CLI sets before torch loads

from MedSegTrain.cli import main

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tiny() -> Any:
    here = ROOT / "Testing" / "MedSegTrain" / "workflows" / "experiments" / "tiny.py"
    spec = importlib.util.spec_from_file_location("cli_experiments_tiny", here)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, tiny: Any) -> Path:
    return tiny.phantoms(tmp_path_factory.mktemp("experiment_cli") / "ds")


def _run(spec: Path, data: Path, out: Path, *extra: str) -> int:
    return main(["experiment", "run", str(spec), "--data", str(data), "--out", str(out), "--device", "cpu",
                 "--progress", "none", *extra])


def _table(out: Path) -> list[dict[str, str]]:
    with open(out / "cases.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_tiny_grid_end_to_end(tmp_path: Path, tiny: Any, data: Path) -> None:
    """Run, table, then the report: its Wilcoxon p (paired by case, labels averaged) is scipy's."""
    out = tmp_path / "out"
    spec = tiny.write_spec(tmp_path / "s.yaml", metrics=["dice", "hd95", "nsd"], nsd_tolerance=2.0)
    assert _run(spec, data, out) == 0
    record = json.loads((out / "experiment.json").read_text())
    ids = [f"lr-{lr}_f{f}_s{s}" for lr in ("0.001", "0.01") for f in (0, 1) for s in (0, 1)]
    assert [t["id"] for t in record["trials"]] == ids
    assert all(t["status"] == "done" and t["seconds"] > 0 for t in record["trials"])
    assert record["code_version"] and record["packages"]["torch"] and record["hardware"]["cpu_count"]
    assert record["spec"]["statistics"]["reference"] == "lr=0.001"
    rows = _table(out)
    assert list(rows[0]) == ["trial", "arm", "lr", "fold", "seed", "case", "label", "dice", "hd95", "nsd"]
    assert all(0.0 <= float(r["nsd"]) <= 1.0 for r in rows)
    assert len(rows) == 8 * 2 * 2  # trials x validation cases of a 2-fold split of 4 x labels
    assert [r["trial"] for r in rows[::4]] == ids
    assert {r["arm"] for r in rows} == {"lr=0.001", "lr=0.01"}
    assert json.loads((out / "cases.json").read_text())[0]["trial"] == ids[0]
    for trial in ids:
        assert (out / "trials" / trial / "done").is_file()
        assert set(json.loads((out / "trials" / trial / "summary.json").read_text())["mean"]) == {
            "kidney", "tumour"}
    assert main(["experiment", "report", str(out)]) == 0
    report = (out / "report.md").read_text()
    for figure in ("box_dice.png", "box_nsd.png", "curve_lr.png"):
        assert f"figures/{figure}" in report and (out / "figures" / figure).stat().st_size > 1000
    units: dict[str, dict[tuple[str, str, str], list[float]]] = {"lr=0.001": {}, "lr=0.01": {}}
    for r in rows:
        units[r["arm"]].setdefault((r["fold"], r["seed"], r["case"]), []).append(float(r["dice"]))
    keys = sorted(units["lr=0.001"])
    low, high = ([float(np.mean(units[arm][k])) for k in keys] for arm in ("lr=0.001", "lr=0.01"))
    p = scipy_stats.wilcoxon(high, low).pvalue
    line = next(t for t in report.splitlines() if t.startswith("| lr=0.01 | lr=0.001 | wilcoxon"))
    assert line.split(" | ")[4] == f"{p:.4g}"


def test_sigkill_then_resume_gives_the_uninterrupted_table(tmp_path: Path, tiny: Any, data: Path) -> None:
    spec = tiny.write_spec(tmp_path / "s.yaml", folds=[0], seeds=[0, 1, 2],
                           factors=[{"name": "lr", "key": "optimizer.lr", "values": [0.01]}])
    assert _run(spec, data, tmp_path / "whole") == 0
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.Popen([sys.executable, "-m", "MedSegTrain", "experiment", "run", str(spec), "--data",
                             str(data), "--out", str(killed), "--device", "cpu", "--progress", "none"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(killed.glob("trials/*/done")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done_before = {p.parent.name for p in killed.glob("trials/*/done")}
    assert 1 <= len(done_before) < 3 and not (killed / "cases.csv").exists()
    assert _run(spec, data, killed) == 1  # without --resume: refused
    assert _run(spec, data, killed, "--resume") == 0
    assert _table(killed) == _table(tmp_path / "whole")
    assert not list(killed.rglob(".*.tmp"))  # the killed run's private folders are gone


def test_bad_spec_is_one_clear_line(tmp_path: Path, tiny: Any, data: Path,
                                    capsys: pytest.CaptureFixture) -> None:
    spec = tiny.write_spec(tmp_path / "s.yaml", statistics={"reference": "lr=5"})
    assert _run(spec, data, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert err.startswith("medsegtrain experiment: error: spec file ") and "statistics.reference" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_failed_trial_exits_1_and_lists_it(tmp_path: Path, tiny: Any, data: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    spec = tiny.write_spec(tmp_path / "s.yaml", folds=[0], seeds=[0], factors=[
        {"name": "loss", "arms": {"broken": {"loss.name": "no_such_loss"}}}])
    assert _run(spec, data, tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "trial broken_f0_s0 failed:" in err and "no_such_loss" in err


def test_json_progress_ends_with_a_done_event(tmp_path: Path, tiny: Any, data: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    spec = tiny.write_spec(tmp_path / "s.yaml", folds=[0], seeds=[0], factors=[
        {"name": "loss", "arms": {"broken": {"loss.name": "no_such_loss"}}}])
    assert main(["experiment", "run", str(spec), "--data", str(data), "--out", str(tmp_path / "out"),
                 "--device", "cpu", "--progress", "json"]) == 1
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-1]["event"] == "done" and events[-1]["trials_failed"] == 1
    assert events[-1]["outputs"]["cases.csv"] == str(tmp_path / "out" / "cases.csv")
