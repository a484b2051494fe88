"""``medsegtrain demo``: bad options refused before any work; the full pipeline (slow) writes its report."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "MedSegTrain", "demo", *args],
                          capture_output=True, text=True, check=False, timeout=1200)


@pytest.mark.parametrize(("args", "message"), [
    (["--train-cases", "3", "--folds", "2"], "--train-cases 3 is too few for 2 folds"),
    (["--minutes", "0"], "--minutes must be positive"),
    (["--test-cases", "0"], "--test-cases must be at least 1"),
])
def test_bad_options_exit_1_without_traceback(tmp_path: Path, args: list[str], message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """In process (the entry point itself is exercised by the usage-error test below)."""
    from MedSegTrain.cli import main

    assert main(["demo", "--out", str(tmp_path / "out"), *args]) == 1
    stderr = capsys.readouterr().err
    assert message in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "out").exists()


def test_unknown_kind_is_a_usage_error(tmp_path: Path) -> None:
    result = _demo("--out", str(tmp_path), "--kind", "liver-pet")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


@pytest.mark.slow
def test_demo_writes_report_figures_and_metrics(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = _demo("--out", str(out), "--minutes", "1.5", "--train-cases", "8", "--test-cases", "2",
                   "--tta", "2", "--progress", "none")
    assert result.returncode == 0, result.stderr
    report = (out / "report.md").read_text()
    assert "![overlays](overlays.png)" in report and "central_gland" in report
    for picture in ("overlays.png", "render3d.png"):
        assert (out / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (out / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["label"] for r in rows} == {"central_gland", "peripheral_zone"}
    assert len(rows) == 4  # 2 cases x 2 labels
    assert all(0.0 <= float(r["dice"]) <= 1.0 for r in rows)
    assert len(list((out / "predictions").glob("*.nii.gz"))) == 2
