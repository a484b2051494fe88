"""`medsegtrain chain`: bad input -> one clear line and exit 1; a tiny two-site chain -> grid and events."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # what the CLI sets before torch loads

from MedSegTrain.cli import main

TINY = [
    "--recipe", "auto",
    "--set", "training.epochs=1",
    "--set", "training.iterations_per_epoch=2",
    "--set", "patch.batch_size=2",
    "--set", "network.args.base_filters=4",
    "--set", "validation.max_cases=1",
    "--set", "split.n_folds=2",
    "--device", "cpu",
]  # fmt: skip


def _writer() -> Any:
    """The training tests' dataset writer, loaded by path (the test folders are not packages)."""
    import importlib.util

    here = Path(__file__).resolve().parents[1] / "training" / "conftest.py"
    spec = importlib.util.spec_from_file_location("training_conftest", here)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_blob_dataset


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("sites")
    write = _writer()
    return [write(root / f"site{k}", n_cases=5, seed=30 + k, offset=30.0 * k) for k in range(2)]


def _fails(capsys: pytest.CaptureFixture, argv: list[str], message: str) -> None:
    assert main(["chain", *argv]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("medsegtrain chain: error: ") and message in err, err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["chain", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    assert "the following arguments are required: --site" in capsys.readouterr().err


def test_bad_input_exits_1(capsys: pytest.CaptureFixture, sites: list[Path], tmp_path: Path) -> None:
    out = str(tmp_path / "o")
    a, b = (str(s) for s in sites)
    two = ["--site", a, "--site", b, "--out", out]
    _fails(capsys, ["--site", a, "--out", out, *TINY], "--site: a transfer chain needs at least two sites")
    _fails(capsys, [*two, "--fold", "all"], "--fold all: a chain trains one fold per stage")
    _fails(capsys, [*two, "--time-budget", "-1"], "--time-budget -1: must be a positive number")
    _fails(capsys, ["--site", a, "--site", str(tmp_path / "nope"), "--out", out], "dataset not found")
    _fails(capsys, [*two, "--recipe", "no_such_recipe"], "--recipe 'no_such_recipe': no such recipe")
    other = _writer()(tmp_path / "other", n_cases=5, seed=1)
    meta = json.loads((other / "dataset.json").read_text())
    meta["labels"]["2"] = "cube"
    (other / "dataset.json").write_text(json.dumps(meta))
    _fails(capsys, ["--site", a, "--site", str(other), "--out", out, *TINY], "site B has labels")
    assert not Path(out).exists()  # everything was checked before training


def test_tiny_chain_with_json_progress(
    capsys: pytest.CaptureFixture, sites: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    argv = ["chain", "--site", str(sites[0]), "--site", str(sites[1]), "--out", str(out), "--no-merged"]
    assert main([*argv, "--time-budget", "5", "--progress", "json", *TINY]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"start", "progress", "log", "done"} <= {e["event"] for e in events}
    done = events[-1]
    assert done["event"] == "done"
    assert done["outputs"]["bundle_A"] == str(out / "stage_0" / "fold_0" / "bundle")
    assert done["outputs"]["bundle_A->B"] == str(out / "stage_1" / "fold_0" / "bundle")
    assert done["outputs"]["transfer_grid_png"] == str(out / "transfer_grid.png")
    grid = json.loads((out / "transfer_grid.json").read_text())
    assert list(grid) == ["A", "A->B"] and all(sorted(row) == ["site_A", "site_B"] for row in grid.values())
    assert not (out / "merged").exists()
    for k in (0, 1):  # the budget is per stage
        config = json.loads((out / f"stage_{k}" / "config.json").read_text())
        assert config["training"]["time_budget_minutes"] == 5
    log = " ".join(e["message"] for e in events if e["event"] == "log")
    assert f"stage A->B trains on {sites[1]}, starting from {out / 'stage_0' / 'fold_0' / 'bundle'}" in log


def test_plain_output_prints_the_table(
    capsys: pytest.CaptureFixture, sites: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    argv = ["chain", "--site", str(sites[0]), "--site", str(sites[1]), "--out", str(out), "--no-merged"]
    assert main([*argv, "--progress", "none", *TINY]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("| model | site_A Dice % | site_A IoU % | site_B Dice % | site_B IoU % |\n")
    assert (out / "transfer_grid.md").read_text() in printed
    assert printed.rstrip().endswith(str(out / "transfer_grid.png"))
