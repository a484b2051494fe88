"""The per-case table and trial summary: contract columns, NaN/inf empty in CSV and null in JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

from MedSegTrain.workflows.experiments.grid import Trial
from MedSegTrain.workflows.experiments.results import case_rows, columns, trial_summary, write_cases


def test_table_and_summary(tmp_path: Path) -> None:
    trial = Trial("alpha-0.2_f1_s3", "alpha=0.2", {"alpha": 0.2}, 1, 3)
    records = [{"case": "a", "target": "kidney", "dice": 0.5, "hd95": math.inf, "iou": 0.1},
               {"case": "a", "target": "tumour", "dice": 0.25, "hd95": 2.0},
               {"case": "b", "target": "kidney", "dice": 1.0, "hd95": 4.0}]
    rows = case_rows(trial, records, ["dice", "hd95"])
    cols = columns(["alpha"], ["dice", "hd95"])
    assert cols == ["trial", "arm", "alpha", "fold", "seed", "case", "label", "dice", "hd95"]
    write_cases(tmp_path, rows, cols)
    lines = (tmp_path / "cases.csv").read_text().splitlines()
    assert lines[0] == ",".join(cols)
    assert lines[1] == "alpha-0.2_f1_s3,alpha=0.2,0.2,1,3,a,kidney,0.5,"
    stored = json.loads((tmp_path / "cases.json").read_text())
    assert list(stored[0]) == cols and stored[0]["hd95"] is None and stored[2]["hd95"] == 4.0
    summary = trial_summary(rows, ["dice", "hd95"])
    assert summary["mean"]["kidney"] == {"dice": 0.75, "hd95": 4.0}  # inf left out of the mean
    assert summary["mean"]["tumour"] == {"dice": 0.25, "hd95": 2.0}
    assert summary["foreground_mean"] == {"dice": 0.5, "hd95": 3.0}
    assert summary["metric_per_case"][0] == {"case": "a", "metrics": {
        "kidney": {"dice": 0.5, "hd95": math.inf}, "tumour": {"dice": 0.25, "hd95": 2.0}}}
