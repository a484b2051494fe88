"""`medsegtrain phantoms`: writes a dataset; wrong options exit non-zero without a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from MedSegTrain.cli import main


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "MedSegTrain", "phantoms", *args],
                          capture_output=True, text=True, check=False, timeout=120)


def test_writes_a_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["phantoms", "--kind", "prostate-mri", "--cases", "2", "--out", str(tmp_path / "ds"),
                   "--seed", "4", "--test-cases", "1", "--progress", "none"])
    assert status == 0
    description = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert description["numTraining"] == 2 and description["phantom"]["seed"] == 4
    assert sorted(p.name for p in (tmp_path / "ds" / "labelsTs").iterdir()) == ["prostate_002.nii.gz"]


def test_json_progress_protocol(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["phantoms", "--kind", "kidney-ct", "--cases", "2", "--out", str(tmp_path / "k"),
                 "--progress", "json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in events] == ["start", "progress", "progress", "done"]
    assert events[0]["total"] == 2 and events[2]["fraction"] == 1.0
    assert events[-1]["outputs"] == {"dataset": str(tmp_path / "k")}


@pytest.mark.parametrize(("args", "message"), [
    (["--kind", "liver-ct", "--cases", "2"], "argument --kind: invalid choice: 'liver-ct'"),
    (["--kind", "kidney-ct", "--cases", "0"], "argument --cases: must be at least 1, got 0"),
    (["--kind", "kidney-ct", "--cases", "two"], "argument --cases: 'two' is not a whole number"),
    (["--kind", "kidney-ct", "--cases", "1", "--test-cases", "-1"],
     "argument --test-cases: must be at least 0"),
    (["--kind", "kidney-ct"], "the following arguments are required: --cases"),
])
def test_wrong_options_are_usage_errors(tmp_path: Path, args: list[str], message: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["phantoms", *args, "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_unwritable_out_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = _run("--kind", "brain-mri", "--cases", "1", "--out", str(blocker / "ds"))
    assert result.returncode == 1
    assert f"medsegtrain phantoms: error: --out {blocker / 'ds'}: {blocker} is a file" in result.stderr
    assert "Traceback" not in result.stderr
    assert blocker.read_text() == "x"


def test_existing_foreign_folder_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    result = _run("--kind", "kidney-ct", "--cases", "1", "--out", str(tmp_path), "--progress", "json")
    assert result.returncode == 1
    assert "folder exists and is not empty" in result.stderr and "Traceback" not in result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["event"] == "error"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
