"""Draw the MedSegMixup icon (128 × 128 PNG): an axial slice with two blended segment contours.

    python MedSegMixup/Resources/Icons/make_icon.py   (writes MedSegMixup.png here and in Resources/Icons/)
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse, FancyBboxPatch

HERE = Path(__file__).resolve().parent
TARGETS = (HERE / "MedSegMixup.png", HERE.parents[2] / "Resources" / "Icons" / "MedSegMixup.png")


def draw(path: Path) -> None:
    """Render the icon to ``path``."""
    figure = plt.figure(figsize=(1.28, 1.28), dpi=100)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.axis("off")
    axes.add_patch(FancyBboxPatch((0.04, 0.04), 0.92, 0.92, boxstyle="round,pad=0,rounding_size=0.16",
                                  facecolor="#1d2b3a", edgecolor="none"))
    y, x = np.mgrid[-1:1:200j, -1:1:200j]
    body = (x / 0.78) ** 2 + (y / 0.62) ** 2 < 1
    shade = np.where(body, 0.55 + 0.25 * np.exp(-((x + 0.1) ** 2 + (y - 0.1) ** 2) * 2.5), np.nan)
    axes.imshow(shade, extent=(0.12, 0.88, 0.12, 0.88), cmap="gray", vmin=0, vmax=1,
                interpolation="bilinear", zorder=2)
    for centre, color in (((0.42, 0.52), "#f08030"), ((0.58, 0.48), "#2f8fe0")):
        axes.add_patch(Ellipse(centre, 0.34, 0.28, facecolor=color, alpha=0.55, edgecolor=color, lw=2,
                               zorder=3))
    axes.text(0.5, 0.17, "MSM", ha="center", va="center", color="white", fontsize=13,
              fontweight="bold", zorder=4)
    figure.savefig(path, dpi=100, transparent=True)
    plt.close(figure)


if __name__ == "__main__":
    for target in TARGETS:
        target.parent.mkdir(parents=True, exist_ok=True)
        draw(target)
        print(target)
