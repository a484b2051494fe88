"""A 2-process `torchrun` (gloo, CPU) run matches a single-process run with the same global batch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

# Cross entropy is a mean over voxels, so the mean of two half-batch losses equals the full-batch
# loss and DDP's averaged gradient equals the single-process gradient (Dice over the batch would not).
SETTINGS = (
    "training.epochs=2",
    "training.iterations_per_epoch=3",
    "patch.batch_size=4",
    "loss.name=ce",
    "network.args.base_filters=4",
    "split.n_folds=2",
    "training.threads=1",
    "training.grad_clip=null",
    "training.restore_best=false",
    "training.amp=none",
)


@pytest.mark.slow
def test_two_process_gloo_matches_single_process(blob_dataset: Path, tmp_path: Path, train_cli) -> None:
    def _args(dataset: Path, out: Path) -> list[str]:
        return train_cli(dataset, out, SETTINGS)

    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
    single, multi = tmp_path / "single", tmp_path / "ddp"
    subprocess.run(
        [sys.executable, "-m", "MedSegTrain", *_args(blob_dataset, single)], check=True, env=env, timeout=900
    )
    subprocess.run(
        [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "MedSegTrain", *_args(blob_dataset, multi)],
        check=True,
        env=env,
        timeout=900,
    )
    a = load_file(single / "fold_0" / "bundle" / "fold0.safetensors")
    b = load_file(multi / "fold_0" / "bundle" / "fold0.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-5, msg=key)
    metrics_a = json.loads((single / "fold_0" / "metrics.json").read_text())["validation"]
    metrics_b = json.loads((multi / "fold_0" / "metrics.json").read_text())["validation"]
    assert metrics_b["dice"] == pytest.approx(metrics_a["dice"], abs=1e-3)  # validation cases all-reduced
