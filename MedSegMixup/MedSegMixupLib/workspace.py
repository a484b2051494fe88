"""The data the panels work on, behind one small interface.

Outside Slicer, :class:`MemoryWorkspace` keeps volumes and segmentations in memory (the pytest
GUI tests and a stand-alone window use it). Inside Slicer, ``slicer_scene.SlicerWorkspace`` offers
the same methods on top of the MRML scene. Panels only talk to this interface, so they run in
both places unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RGB = tuple[float, float, float]

# Distinct, colour-blind-aware segment colours (Okabe-Ito order after Slicer's first two).
PALETTE: tuple[RGB, ...] = (
    (0.50, 0.68, 0.39), (0.95, 0.50, 0.19), (0.00, 0.45, 0.70), (0.80, 0.47, 0.65),
    (0.90, 0.62, 0.00), (0.34, 0.71, 0.91), (0.84, 0.37, 0.00), (0.94, 0.89, 0.26),
)
FALSE_POSITIVE_COLOR: RGB = (0.93, 0.16, 0.16)
FALSE_NEGATIVE_COLOR: RGB = (0.12, 0.47, 0.96)


def default_colors(labels: dict[str, int]) -> dict[str, RGB]:
    """One palette colour per segment, by label value so the same label keeps its colour."""
    return {name: PALETTE[(value - 1) % len(PALETTE)] for name, value in labels.items()}


@dataclass
class Segmentation:
    """A label map (integer ``Volume``) with its segment names, values and colours."""

    labelmap: object  # MedSegTrain.io.Volume with integer values
    labels: dict[str, int]
    colors: dict[str, RGB] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = {name: int(value) for name, value in self.labels.items() if int(value) != 0}
        self.colors = {**default_colors(self.labels), **self.colors}

    def mask(self, name: str) -> np.ndarray:
        """The boolean mask of one segment."""
        return np.asarray(self.labelmap.array) == self.labels[name]


class MemoryWorkspace:
    """Volumes, segmentations, display windows and tables held in memory."""

    def __init__(self) -> None:
        self._volumes: dict[str, object] = {}
        self._files: dict[str, Path] = {}
        self._segmentations: dict[str, Segmentation] = {}
        self._windows: dict[str, tuple[float, float]] = {}
        self.tables: dict[str, tuple[list[str], list[list[str]]]] = {}
        self._listeners: list[Callable[[], None]] = []

    # --------------------------------------------------------------- notifications
    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` whenever volumes or segmentations are added or removed."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    # --------------------------------------------------------------- volumes
    def volume_names(self) -> list[str]:
        """Names of the scalar volumes, in the order they were added."""
        return list(self._volumes)

    def volume(self, name: str):
        """The ``Volume`` called ``name``."""
        return self._volumes[name]

    def add_volume(self, name: str, volume, source_file: str | Path | None = None) -> str:
        """Add a volume under a unique name derived from ``name``; returns that name."""
        unique = _unique(name, set(self._volumes) | set(self._segmentations))
        self._volumes[unique] = volume
        if source_file is not None:
            self._files[unique] = Path(source_file)
        self._changed()
        return unique

    def volume_file(self, name: str, folder: Path) -> Path:
        """A file holding the volume for a background process: its source, or a new NRRD in ``folder``."""
        if name in self._files and self._files[name].exists():
            return self._files[name]
        from MedSegTrain.io import write_image

        path = Path(folder) / f"{_file_stem(name)}.nrrd"
        write_image(self._volumes[name], path)
        return path

    def set_window(self, name: str, window: float, level: float) -> None:
        """Show ``name`` with this window/level."""
        self._windows[name] = (float(window), float(level))

    def window(self, name: str) -> tuple[float, float] | None:
        """The window/level ``name`` is shown with, if one was set."""
        return self._windows.get(name)

    # --------------------------------------------------------------- segmentations
    def segmentation_names(self) -> list[str]:
        """Names of the segmentations, in the order they were added."""
        return list(self._segmentations)

    def segmentation(self, name: str) -> Segmentation:
        """The segmentation called ``name``."""
        return self._segmentations[name]

    def add_segmentation(self, name: str, segmentation: Segmentation,
                         reference_volume: str | None = None) -> str:
        """Add a segmentation under a unique name; returns that name."""
        unique = _unique(name, set(self._volumes) | set(self._segmentations))
        self._segmentations[unique] = segmentation
        self._changed()
        return unique

    def remove(self, name: str) -> None:
        """Forget a volume or segmentation."""
        self._volumes.pop(name, None)
        self._files.pop(name, None)
        self._segmentations.pop(name, None)
        self._changed()

    # --------------------------------------------------------------- tables
    def add_table(self, name: str, columns: list[str], rows: list[list[str]]) -> str:
        """Keep a results table (a table node inside Slicer)."""
        unique = _unique(name, set(self.tables))
        self.tables[unique] = (list(columns), [list(r) for r in rows])
        return unique


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    index = 1
    while f"{name}_{index}" in taken:
        index += 1
    return f"{name}_{index}"


def _file_stem(name: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return safe or "volume"
