"""Real data: the default recipe on MSD hippocampus (2 CPU cores), Dice against the time budget.

The ensemble of what `medsegtrain train` writes is scored by the inference module
(`predict_volume`, on each case's original grid) on the held-out test cases of `split.json`,
which no fold trained or validated on. Budgets 5, 10 and 20 minutes give the accuracy-per-CPU-
minute curve of docs/training.md (``pytest -m "slow and realdata" -k twenty`` runs the 20-minute
point alone). Targets: mean Dice over the two labels >= 0.85 at 20 minutes; >= 0.75 at 5 and 10
(a run that learned the structures at all, the floor a shorter budget must still clear).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.timeout(2400)
@pytest.mark.parametrize(("minutes", "target"), [(5, 0.75), (10, 0.75), (20, 0.85)],
                         ids=["five", "ten", "twenty"])
def test_default_recipe_dice_for_a_time_budget(shared_data: Path, tmp_path: Path, minutes: int,
                                               target: float) -> None:
    from MedSegTrain.bundle import load_bundle
    from MedSegTrain.data import load_case, load_dataset
    from MedSegTrain.inference import predict_volume

    data = shared_data / "msd-hippocampus"
    if not data.is_dir():
        pytest.skip(f"{data} is missing")
    out = tmp_path / "hippo"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "MedSegTrain",
            "train",
            "--data",
            str(data),
            "--out",
            str(out),
            "--time-budget",
            str(minutes),
            "--progress",
            "none",
        ],
        check=True,
        env=env,
        timeout=2400,
    )
    bundles = [load_bundle(p / "bundle") for p in sorted(out.glob("fold_*"))]
    test_ids = json.loads((out / "split.json").read_text())["test"]
    dataset = load_dataset(data)
    scores: dict[int, list[float]] = {1: [], 2: []}
    for case_id in test_ids:
        loaded = load_case(dataset.case(case_id))
        label = np.asarray(predict_volume(bundles, loaded.channels, device="cpu").label.array)
        for value in scores:
            p, r = label == value, np.asarray(loaded.label) == value
            scores[value].append(2.0 * (p & r).sum() / max(p.sum() + r.sum(), 1))
    mean_dice = float(np.mean([np.mean(v) for v in scores.values()]))
    print(
        f"hippocampus, {minutes} min: {len(test_ids)} held-out cases, mean Dice {mean_dice:.4f} "
        f"(anterior {np.mean(scores[1]):.4f}, posterior {np.mean(scores[2]):.4f}), "
        f"load {os.getloadavg()[0]:.1f}"
    )
    assert len(test_ids) == 40
    assert mean_dice >= target
