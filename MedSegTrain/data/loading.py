"""Opening a dataset description and loading one case into arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from MedSegTrain.data.dataset import Case, Dataset
from MedSegTrain.data.datasetjson import read_dataset_json
from MedSegTrain.data.manifest import read_manifest
from MedSegTrain.errors import MedSegError
from MedSegTrain.io import Volume, read_channels, read_image, reorient_like

GEOMETRY_TOLERANCE = 1e-4


def load_dataset(path: str | Path) -> Dataset:
    """A dataset from an MSD / nnU-Net folder (or its ``dataset.json``) or a ``.csv`` manifest."""
    path = Path(path)
    if not path.exists():
        raise MedSegError(f"{path}: dataset not found")
    if path.is_file() and path.suffix.lower() == ".csv":
        return read_manifest(path)
    if path.is_dir() or path.name == "dataset.json":
        return read_dataset_json(path)
    raise MedSegError(f"{path}: not a dataset (give a folder with dataset.json or a .csv manifest)")


@dataclass
class LoadedCase:
    """A case in memory: ``image`` (C, z, y, x) float32, ``label`` (z, y, x) integer or None,
    ``reference`` the first channel as read (its geometry is the case's grid)."""

    image: np.ndarray
    label: np.ndarray | None
    reference: Volume
    case_id: str = ""
    channels: list[Volume] = field(default_factory=list)

    @property
    def label_volume(self) -> Volume | None:
        """The label map as a :class:`Volume` on the reference grid."""
        return None if self.label is None else self.reference.with_array(self.label)


def load_case(case: Case, n_channels: int | None = None) -> LoadedCase:
    """Read every channel and the label of ``case``; checks channel count and geometry agreement.

    Each image file gives one channel, or several when it is 4D / multi-component (MSD).
    A label or channel stored with its axes flipped or permuted but the same voxel centres is
    reoriented onto the first channel's grid (lossless). Float label files are accepted when every
    value is whole, and returned as int32.
    """
    if not case.images:
        raise MedSegError(f"case {case.case_id}: no image files")
    channels = [volume for path in case.images for volume in read_channels(path)]
    if n_channels is not None and len(channels) != n_channels:
        raise MedSegError(f"case {case.case_id}: {len(channels)} channels in "
                          f"{', '.join(str(p) for p in case.images)} but {n_channels} expected")
    reference = channels[0]
    for index, channel in enumerate(channels[1:], start=1):
        aligned = reorient_like(channel, reference.geometry, GEOMETRY_TOLERANCE)
        if aligned is None:
            raise MedSegError(f"case {case.case_id}: channel {index} has another grid than channel 0 "
                              f"({_describe(channel)} vs {_describe(reference)})")
        channels[index] = aligned
    image = np.stack([c.array.astype(np.float32, copy=False) for c in channels])
    label = None
    if case.label is not None:
        label_volume = read_image(case.label)
        aligned = reorient_like(label_volume, reference.geometry, GEOMETRY_TOLERANCE)
        if aligned is None:
            raise MedSegError(f"{case.label}: label grid differs from the image grid "
                              f"({_describe(label_volume)} vs {_describe(reference)})")
        label = integer_labels(aligned.array, case.label)
    return LoadedCase(image, label, reference, case.case_id, channels)


def integer_labels(array: np.ndarray, path: Path) -> np.ndarray:
    """``array`` as an integer label map; float values must be whole numbers."""
    if np.issubdtype(array.dtype, np.integer):
        return array
    if np.issubdtype(array.dtype, np.bool_):
        return array.astype(np.uint8)
    if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
        raise MedSegError(f"{path}: label map holds non-integer values (a label map must hold whole numbers)")
    return array.astype(np.int32)


def _describe(volume: Volume) -> str:
    g = volume.geometry
    return (f"size {g.size}, spacing {tuple(round(s, 5) for s in g.spacing)}, "
            f"origin {tuple(round(o, 3) for o in g.origin)}")
