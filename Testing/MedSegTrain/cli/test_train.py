"""`medsegtrain train`: bad input -> one clear line and exit 1; a tiny run -> bundles and JSON events."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # what the CLI sets before torch loads

from MedSegTrain.cli import main

TINY = [
    "--set",
    "training.epochs=1",
    "--set",
    "training.iterations_per_epoch=2",
    "--set",
    "patch.batch_size=2",
    "--set",
    "network.args.base_filters=4",
    "--set",
    "validation.max_cases=1",
    "--set",
    "split.n_folds=2",
    "--device",
    "cpu",
]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import importlib.util

    here = Path(__file__).resolve().parents[1] / "training" / "conftest.py"
    spec = importlib.util.spec_from_file_location("training_conftest", here)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_blob_dataset(tmp_path_factory.mktemp("blobs"), n_cases=5)


def _fails(capsys: pytest.CaptureFixture, argv: list[str], message: str) -> None:
    assert main(["train", *argv]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("medsegtrain train: error: ") and message in err, err


def test_missing_dataset(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    _fails(capsys, ["--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")], "dataset not found")


def test_bad_recipe_key_and_value(capsys: pytest.CaptureFixture, dataset: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "o")
    _fails(
        capsys,
        ["--data", str(dataset), "--out", out, "--set", "optimiser.lr=1"],
        "unknown config key 'optimiser' (did you mean 'optimizer'?)",
    )
    _fails(
        capsys,
        ["--data", str(dataset), "--out", out, "--set", "optimizer.name=adagrad"],
        "'optimizer.name' is 'adagrad'; choose one of adam",
    )
    _fails(
        capsys,
        ["--data", str(dataset), "--out", out, "--recipe", "no_such_recipe"],
        "--recipe 'no_such_recipe': no such recipe file or name",
    )
    assert not (tmp_path / "o" / "fold_0").exists()  # nothing half-written


def test_fold_out_of_range_and_malformed(
    capsys: pytest.CaptureFixture, dataset: Path, tmp_path: Path
) -> None:
    out = str(tmp_path / "o")
    _fails(capsys, ["--data", str(dataset), "--out", out, "--fold", "9", *TINY], "--fold 9: out of range")
    _fails(
        capsys, ["--data", str(dataset), "--out", out, "--fold", "x"], "--fold 'x': expected a fold number"
    )
    _fails(
        capsys,
        ["--data", str(dataset), "--out", out, "--time-budget", "0"],
        "--time-budget 0: must be a positive number",
    )


def test_unwritable_out(capsys: pytest.CaptureFixture, dataset: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    _fails(capsys, ["--data", str(dataset), "--out", str(blocker / "sub"), *TINY], "cannot write there")


def test_tiny_run_with_json_progress(capsys: pytest.CaptureFixture, dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert (
        main(["train", "--data", str(dataset), "--out", str(out), "--fold", "1", "--progress", "json", *TINY])
        == 0
    )
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    kinds = {e["event"] for e in events}
    assert {"start", "progress", "log", "done"} <= kinds
    done = events[-1]
    assert done["event"] == "done" and done["outputs"]["bundle_0"] == str(out / "fold_1" / "bundle")
    assert (out / "fold_1" / "bundle" / "model.json").is_file() and not (out / "fold_0").exists()
    progress = [e for e in events if e["event"] == "progress" and e["task"] == "train fold 1"]
    assert progress[-1]["done"] == 2 and "loss" in progress[-1]
