"""Plots of an experiment report: per-arm box + strip plots and a curve with its CI band (X3, X4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from MedSegTrain.fileutil import atomic_output_file


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    with atomic_output_file(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def save_box_strip(path: Path, groups: Mapping[str, Sequence[float]], *, title: str = "",
                   y_label: str = "") -> Path:
    """One box per arm with its units drawn on top (jittered with a fixed seed), as a PNG."""
    names = list(groups)
    fig = _figure(2.0 + 1.1 * len(names), 4.0)
    ax = fig.subplots()
    ax.boxplot([list(groups[n]) for n in names], showfliers=False)
    jitter = np.random.default_rng(0)
    for i, name in enumerate(names, start=1):
        values = np.asarray(groups[name], dtype=float)
        ax.scatter(i + jitter.uniform(-0.12, 0.12, values.size), values, s=10, alpha=0.6, color="tab:blue")
    ax.set_xticks(range(1, len(names) + 1), labels=names, rotation=20, ha="right")
    ax.set_ylabel(y_label)
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)


def save_curve(path: Path, x: Sequence[float], mean: Sequence[float], low: Sequence[float],
               high: Sequence[float], *, title: str = "", x_label: str = "", y_label: str = "") -> Path:
    """Mean against a numeric factor with its 95 % CI as a shaded band, as a PNG."""
    fig = _figure(5.0, 3.6)
    ax = fig.subplots()
    ax.fill_between(x, low, high, alpha=0.25, color="tab:blue", label="95 % CI")
    ax.plot(x, mean, marker="o", color="tab:blue", label="mean")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)


def save_reliability(path: Path, curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], *,
                     title: str = "") -> Path:
    """Reliability diagram: accuracy against confidence per arm (empty bins skipped), with the diagonal."""
    fig = _figure(4.6, 4.2)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    for name, (confidence, accuracy) in curves.items():
        conf, acc = np.asarray(confidence, dtype=float), np.asarray(accuracy, dtype=float)
        keep = np.isfinite(conf) & np.isfinite(acc)
        ax.plot(conf[keep], acc[keep], marker="o", markersize=3, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)
