"""What the load panel shows about a volume: grid, intensity range and a modality guess."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CT_AIR_THRESHOLD = -200.0  # MRI intensities are never this negative; CT air is about -1000 HU


@dataclass(frozen=True)
class VolumeSummary:
    """Facts about one volume, in ITK ``(x, y, z)`` order for grid values."""

    size: tuple[int, ...]
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    minimum: float
    maximum: float
    dtype: str
    modality: str

    def rows(self) -> list[tuple[str, str]]:
        """(field, value) pairs for display."""
        return [
            ("Size (voxels)", " × ".join(str(v) for v in self.size)),
            ("Spacing (mm)", " × ".join(f"{v:.3g}" for v in self.spacing)),
            ("Origin (mm)", ", ".join(f"{v:.1f}" for v in self.origin)),
            ("Intensity range", f"{self.minimum:.6g} … {self.maximum:.6g}"),
            ("Data type", self.dtype),
            ("Modality (guess)", self.modality),
        ]


def guess_modality(array: np.ndarray) -> str:
    """``CT`` when values reach Hounsfield air, ``MR`` for non-negative images, else ``unknown``.

    A heuristic for display and preset suggestions only: z-scored or pre-windowed images are
    ``unknown`` rather than guessed wrong.
    """
    if array.size == 0:
        return "unknown"
    low = float(np.min(array))
    if low <= CT_AIR_THRESHOLD:
        return "CT"
    if low >= 0.0:
        return "MR"
    return "unknown"


def summarize(volume) -> VolumeSummary:
    """The summary of a ``MedSegTrain.io.Volume``."""
    array = volume.array
    finite = array[np.isfinite(array)] if np.issubdtype(array.dtype, np.floating) else array
    low = float(finite.min()) if finite.size else float("nan")
    high = float(finite.max()) if finite.size else float("nan")
    return VolumeSummary(
        size=tuple(int(v) for v in reversed(array.shape)),
        spacing=tuple(volume.spacing),
        origin=tuple(volume.origin),
        minimum=low,
        maximum=high,
        dtype=str(array.dtype),
        modality=guess_modality(finite),
    )
