"""Training logs: ``log.csv`` (one row per epoch), optional TensorBoard events, ``curves.png``.

The CSV and PNG are rewritten atomically from the full history each epoch, so after a kill and
``--resume`` they hold exactly one row per finished epoch. TensorBoard is used when installed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from MedSegTrain.fileutil import atomic_output_file, write_text_atomic


def flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"val": {"dice": 1}}`` -> ``{"val_dice": 1}``."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}_"))
        else:
            out[name] = value
    return out


def write_csv(path: Path, history: Sequence[Mapping[str, Any]]) -> None:
    """All epochs as CSV; columns are the union of every row's keys, in first-seen order."""
    rows = [flatten(r) for r in history]
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(Path(path), buffer.getvalue())


def plot_curves(path: Path, history: Sequence[Mapping[str, Any]], title: str = "") -> None:
    """Training loss, validation loss and Dice against epoch, as a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    rows = [flatten(r) for r in history]
    fig = Figure(figsize=(9, 3.6), dpi=100)
    ax_loss, ax_dice = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in rows]
    ax_loss.plot(epochs, [r.get("train_loss") for r in rows], label="train loss")
    val = [(r["epoch"], r["val_loss"]) for r in rows if r.get("val_loss") is not None]
    if val:
        ax_loss.plot(*zip(*val, strict=True), "o-", label="validation loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(loc="upper right")
    dice_keys = sorted({k for r in rows for k in r if k.startswith("val_dice")})
    for key in dice_keys:
        points = [(r["epoch"], r[key]) for r in rows if r.get(key) is not None]
        if points:
            ax_dice.plot(
                *zip(*points, strict=True),
                "o-" if key == "val_dice" else ".-",
                label=key.replace("val_dice_per_label_", "").replace("val_dice", "mean Dice"),
            )
    ax_dice.set_xlabel("epoch")
    ax_dice.set_ylabel("validation Dice")
    ax_dice.set_ylim(0, 1)
    if dice_keys:
        ax_dice.legend(loc="lower right", fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_output_file(Path(path)) as tmp:
        fig.savefig(tmp, format="png")


class TensorBoardLog:
    """Scalars to TensorBoard when ``torch.utils.tensorboard`` works; silently nothing otherwise."""

    def __init__(self, folder: Path, enabled: bool = True) -> None:
        self.writer: Any = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except Exception:  # tensorboard is an optional extra
                return
            self.writer = SummaryWriter(log_dir=str(folder))

    def add(self, row: Mapping[str, Any]) -> None:
        if self.writer is None:
            return
        for key, value in flatten(row).items():
            if key != "epoch" and isinstance(value, (int, float)):
                self.writer.add_scalar(key.replace("_", "/", 1), value, int(row["epoch"]))
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
