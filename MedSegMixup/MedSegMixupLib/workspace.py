"""The data the panels work on, behind one small interface, addressed by item ID (never by name).

Outside Slicer, :class:`MemoryWorkspace` keeps volumes and segmentations in memory (the pytest
GUI tests and a stand-alone window use it); its IDs are unique names. Inside Slicer,
``slicer_scene.SlicerWorkspace`` offers the same methods on the MRML scene, where IDs are node IDs
and names may repeat. Panels only talk to this interface, so they run in both places unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .choosers import ItemChooser

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


class Segmentation:
    """Named binary masks on one image grid, with colours and a label value per segment.

    Segments may overlap (BraTS WT ⊃ TC ⊃ ET drawn as three segments), so each keeps its own
    mask; :attr:`labelmap` collapses them only where one label per voxel is needed (a file).
    Built from a label map (``Segmentation(labelmap, labels)``) or from masks (:meth:`from_masks`).
    """

    def __init__(self, labelmap, labels: dict[str, int], colors: dict[str, RGB] | None = None) -> None:
        array = np.asarray(labelmap.array)
        values = {name: int(value) for name, value in labels.items() if int(value) != 0}
        self._set(labelmap, {name: array == value for name, value in values.items()}, values, colors)

    @classmethod
    def from_masks(cls, grid, masks: dict[str, np.ndarray], values: dict[str, int],
                   colors: dict[str, RGB] | None = None) -> Segmentation:
        """Segments given as one boolean mask each on ``grid`` (a ``Volume``; only its geometry is used)."""
        shape = np.asarray(grid.array).shape
        for name, mask in masks.items():
            if np.asarray(mask).shape != shape:
                raise ValueError(f"segment {name!r} has shape {np.asarray(mask).shape}, the grid {shape}")
        segmentation = cls.__new__(cls)
        segmentation._set(grid, masks, values, colors)
        return segmentation

    def _set(self, grid, masks: dict[str, np.ndarray], values: dict[str, int],
             colors: dict[str, RGB] | None) -> None:
        self.grid = grid
        self.masks = {name: np.asarray(mask, dtype=bool) for name, mask in masks.items()}
        self.values = {name: int(values[name]) for name in self.masks}
        self.colors = {**default_colors(self.values), **(colors or {})}

    @property
    def labels(self) -> dict[str, int]:
        """Segment name -> label value."""
        return dict(self.values)

    def mask(self, name: str) -> np.ndarray:
        """The boolean mask of one segment."""
        return self.masks[name]

    def overlaps(self) -> bool:
        """True when some voxel belongs to two segments."""
        if not self.masks:
            return False
        return bool((np.sum(list(self.masks.values()), axis=0) > 1).any())

    @property
    def labelmap(self):
        """The segments as one integer label map ``Volume`` (a later segment wins where they overlap)."""
        top = max(self.values.values(), default=0)
        array = np.zeros(np.asarray(self.grid.array).shape, np.uint8 if top < 256 else np.int32)
        for name, mask in self.masks.items():
            array[mask] = self.values[name]
        return self.grid.with_array(array)


class MemoryWorkspace:
    """Volumes, segmentations, display windows and tables held in memory; IDs are unique names."""

    def __init__(self) -> None:
        self._volumes: dict[str, object] = {}
        self._files: dict[str, Path] = {}
        self._segmentations: dict[str, Segmentation] = {}
        self._windows: dict[str, tuple[float, float]] = {}
        self.tables: dict[str, tuple[list[str], list[list[str]]]] = {}
        self.parents: dict[str, str] = {}  # result ID -> the input volume ID it was derived from
        self.overlays: dict[str, str] = {}  # volume ID -> the volume shown on top of it
        self._listeners: list[Callable[[], None]] = []

    # --------------------------------------------------------------- notifications
    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` whenever volumes or segmentations are added or removed."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def chooser(self, kind: str, tooltip: str = "") -> ItemChooser:
        """A combo box listing this workspace's ``"volume"`` or ``"segmentation"`` items."""
        ids = self.volume_ids if kind == "volume" else self.segmentation_ids
        return ItemChooser(lambda: [(item, item) for item in ids()], tooltip)

    def display_name(self, item_id: str) -> str:
        """The name shown for an item (here the ID itself)."""
        return item_id

    # --------------------------------------------------------------- volumes
    def volume_ids(self) -> list[str]:
        """IDs of the scalar volumes, in the order they were added."""
        return list(self._volumes)

    def volume(self, item_id: str):
        """The ``Volume`` with this ID."""
        return self._volumes[item_id]

    def add_volume(self, name: str, volume, source_file: str | Path | None = None,
                   derived_from: str | None = None) -> str:
        """Add a volume under a unique name derived from ``name``; returns its ID."""
        unique = _unique(name, set(self._volumes) | set(self._segmentations))
        self._volumes[unique] = volume
        if source_file is not None:
            self._files[unique] = Path(source_file)
        if derived_from is not None:
            self.parents[unique] = derived_from
        self._changed()
        return unique

    def add_overlay(self, name: str, volume, over: str) -> str:
        """Add a volume shown on top of ``over`` (e.g. an uncertainty map); ``over`` stays the
        background. Returns its ID."""
        item_id = self.add_volume(name, volume, derived_from=over)
        self.overlays[over] = item_id
        return item_id

    def volume_file(self, item_id: str, folder: Path) -> Path:
        """A file holding the volume for a background process: its source, or a new NRRD in ``folder``."""
        if item_id in self._files and self._files[item_id].exists():
            return self._files[item_id]
        from MedSegTrain.io import write_image

        path = Path(folder) / f"{file_stem(item_id)}.nrrd"
        write_image(self._volumes[item_id], path)
        return path

    def modality(self, item_id: str) -> str | None:
        """What the volume declares itself to be (``CT``, ``MR``), None when it does not say."""
        return None

    def set_window(self, item_id: str, window: float, level: float) -> None:
        """Show the volume with this window/level."""
        self._windows[item_id] = (float(window), float(level))

    def window(self, item_id: str) -> tuple[float, float] | None:
        """The window/level the volume is shown with, if one was set."""
        return self._windows.get(item_id)

    # --------------------------------------------------------------- segmentations
    def segmentation_ids(self) -> list[str]:
        """IDs of the segmentations, in the order they were added."""
        return list(self._segmentations)

    def segmentation(self, item_id: str, grid_volume: str | None = None) -> Segmentation:
        """The segmentation with this ID (kept on its own grid: ``grid_volume`` only matters in Slicer,
        where segments are read onto a volume's grid)."""
        return self._segmentations[item_id]

    def add_segmentation(self, name: str, segmentation: Segmentation, reference_volume: str | None = None,
                         show_3d: bool = False) -> str:
        """Add a segmentation under a unique name; returns its ID."""
        unique = _unique(name, set(self._volumes) | set(self._segmentations))
        self._segmentations[unique] = segmentation
        if reference_volume is not None:
            self.parents[unique] = reference_volume
        self._changed()
        return unique

    def remove(self, item_id: str) -> None:
        """Forget a volume or segmentation."""
        self._volumes.pop(item_id, None)
        self._files.pop(item_id, None)
        self._segmentations.pop(item_id, None)
        self.parents.pop(item_id, None)
        self._changed()

    def source_volume(self, item_id: str) -> str | None:
        """The volume a segmentation or derived volume was made on (its reference), None if unknown."""
        return self.parents.get(item_id)

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


def file_stem(name: str) -> str:
    """``name`` with every character a file name may not hold replaced by ``_``."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return safe or "volume"
