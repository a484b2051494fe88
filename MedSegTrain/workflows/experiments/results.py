"""What an experiment writes: the long per-case table, nnU-Net-style summaries and the run's record.

``cases.csv`` / ``cases.json`` hold one row per trial x case x label (columns ``trial, arm``,
one per factor, ``fold, seed, case, label``, then the metrics; NaN is empty in CSV and null in
JSON); ``trials/<id>/summary.json`` the per-case metrics and their mean per label;
``experiment.json`` the spec, code and package versions, hardware and every trial's status.
"""

from __future__ import annotations

import csv
import io
import math
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from MedSegTrain.fileutil import write_json_atomic, write_text_atomic

PACKAGES = ("torch", "numpy", "scipy", "SimpleITK", "monai", "PyYAML", "submitit")


def case_rows(trial: Any, records: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> list[dict]:
    """The table rows of one trial from its evaluation records (``case``, ``target``, metrics)."""
    rows = []
    for record in records:
        row: dict[str, Any] = {"trial": trial.id, "arm": trial.arm, **trial.factors, "fold": trial.fold,
                               "seed": trial.seed, "case": record["case"], "label": record["target"]}
        for metric in metrics:
            value = record.get(metric, math.nan)
            row[metric] = float(value) if value is not None else math.nan
        rows.append(row)
    return rows


def trial_summary(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> dict[str, Any]:
    """nnU-Net-style summary: ``metric_per_case`` and ``mean`` per label (finite values only) and
    ``foreground_mean`` over the labels."""
    per_case: dict[str, dict[str, dict[str, float]]] = {}
    for row in rows:
        per_case.setdefault(row["case"], {})[row["label"]] = {m: row[m] for m in metrics}
    labels = list(dict.fromkeys(row["label"] for row in rows))
    mean = {label: {m: _mean([r[m] for r in rows if r["label"] == label]) for m in metrics}
            for label in labels}
    return {
        "metric_per_case": [{"case": case, "metrics": values} for case, values in per_case.items()],
        "mean": mean,
        "foreground_mean": {m: _mean([mean[label][m] for label in labels]) for m in metrics},
    }


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def write_cases(out_dir: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """``cases.json`` (NaN and inf as null) and ``cases.csv`` (empty) of ``rows``, only ``columns``."""
    write_json_atomic(out_dir / "cases.json", [{c: _json_cell(row.get(c)) for c in columns} for row in rows])
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c)) for c in columns})
    write_text_atomic(out_dir / "cases.csv", text.getvalue())


def _json_cell(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return repr(value) if isinstance(value, float) else value


def columns(factor_names: Sequence[str], metrics: Sequence[str]) -> list[str]:
    """The table's columns in contract order."""
    return ["trial", "arm", *factor_names, "fold", "seed", "case", "label", *metrics]


def code_version() -> str:
    """``git describe`` of the checkout the package runs from, else the package version."""
    from MedSegTrain import __version__

    root = Path(__file__).resolve().parents[3]
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=root,
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return __version__
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else __version__


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages results depend on (None: not installed)."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def hardware(threads_per_trial: int, workers: int, device: str) -> dict[str, Any]:
    """The machine the trials ran on."""
    info: dict[str, Any] = {"platform": platform.platform(), "processor": platform.processor() or None,
                            "python": platform.python_version(), "cpu_count": os.cpu_count(),
                            "workers": workers, "threads_per_trial": threads_per_trial, "device": device}
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info
