"""Kill -9 a real `medsegtrain train` mid-run, `--resume` it: the final weights equal an uninterrupted run.

Default precision and threads (issue 17.5): reproducibility must not need `training.amp=none`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

SETTINGS = (
    "training.epochs=5",
    "training.iterations_per_epoch=6",
    "patch.batch_size=2",
    "network.args.base_filters=4",
    "validation.max_cases=1",
    "split.n_folds=2",
)


def _epochs_logged(out: Path) -> int:
    log = out / "fold_0" / "log.csv"
    return max(len(log.read_text().splitlines()) - 1, 0) if log.is_file() else 0


@pytest.mark.slow
def test_kill_and_resume_gives_identical_weights(blob_dataset: Path, tmp_path: Path, train_cli) -> None:
    def _command(dataset: Path, out: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "MedSegTrain", *train_cli(dataset, out, SETTINGS, *extra)]

    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(_command(blob_dataset, straight), check=True, env=env, timeout=900)

    process = subprocess.Popen(_command(blob_dataset, killed), env=env)
    deadline = time.monotonic() + 600
    while _epochs_logged(killed) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed; make it longer"
    os.kill(process.pid, signal.SIGKILL)  # no clean-up, no atexit: a real crash
    process.wait()
    assert 2 <= _epochs_logged(killed) < 5
    assert not (killed / "fold_0" / "bundle").exists()

    subprocess.run(_command(blob_dataset, killed, "--resume"), check=True, env=env, timeout=900)
    a = load_file(straight / "fold_0" / "bundle" / "fold0.safetensors")
    b = load_file(killed / "fold_0" / "bundle" / "fold0.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] == b[key]).all(), key
    assert (
        (straight / "fold_0" / "log.csv").read_text().count("\n")
        == (killed / "fold_0" / "log.csv").read_text().count("\n")
        == 6
    )
