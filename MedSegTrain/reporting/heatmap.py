"""A labelled heatmap with the values written in the cells (e.g. the transfer grid's Dice %, T5)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from MedSegTrain.fileutil import atomic_output_file
from MedSegTrain.reporting.markdown import format_number


def save_heatmap(
    path: Path,
    values: Sequence[Sequence[float]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    title: str = "",
    value_label: str = "",
    x_label: str = "",
    y_label: str = "",
    vmin: float | None = None,
    vmax: float | None = None,
    digits: int = 1,
    cmap: str = "viridis",
) -> Path:
    """Draw ``values`` (rows x columns; NaN: an empty grey cell marked n/a) as a PNG, atomically."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    data = np.asarray(values, dtype=np.float64)
    if data.shape != (len(row_labels), len(col_labels)) or data.size == 0:
        raise ValueError(
            f"heatmap: {np.shape(values)} values for {len(row_labels)} rows x {len(col_labels)} columns"
        )
    n_rows, n_cols = data.shape
    fig = Figure(figsize=(2.2 + 1.4 * n_cols, 1.4 + 0.6 * n_rows), dpi=110)
    ax = fig.subplots()
    colours = matplotlib.colormaps[cmap].with_extremes(bad="#d0d0d0")
    image = ax.imshow(np.ma.masked_invalid(data), cmap=colours, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(n_cols), labels=list(col_labels))
    ax.set_yticks(range(n_rows), labels=list(row_labels))
    ax.tick_params(length=0)
    if x_label:
        ax.set_xlabel(x_label)
    if y_label:
        ax.set_ylabel(y_label)
    for i in range(n_rows):
        for j in range(n_cols):
            value = float(data[i, j])
            if np.isnan(value):
                ax.text(j, i, "n/a", ha="center", va="center", color="black")
                continue
            red, green, blue, _ = image.cmap(image.norm(value))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
            ax.text(j, i, format_number(value, digits), ha="center", va="center",
                    color="white" if dark else "black")
    fig.colorbar(image, ax=ax, label=value_label)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    with atomic_output_file(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)
