"""What ``predict --input`` names: one case (a file per channel, a 4D file, a DICOM folder) or a
folder of cases (nnU-Net style ``CASE_0000.nii.gz``, ``CASE_0001.nii.gz`` ..., or one file per
single-channel case). Only file names and headers are read here, so every problem is found
before any voxel is loaded or any network runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import full_suffix
from MedSegTrain.io import IMAGE_SUFFIXES, read_channels, read_header, read_image
from MedSegTrain.io import case_id as file_case_id  # case_id is also a local name below

_CHANNEL = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")


@dataclass(frozen=True)
class InputCase:
    """One case to segment: its id, its channel files (or one 4D file), its channel count."""

    case_id: str
    paths: tuple[Path, ...]
    n_channels: int
    suffix: str

    def read(self, non_finite: float | None = None) -> list:
        """The channels as :class:`MedSegTrain.io.Volume` objects (``non_finite``: the value that
        replaces NaN/infinite voxels, which are otherwise refused)."""
        if len(self.paths) == 1:
            return read_channels(self.paths[0], non_finite)
        return [read_image(p, non_finite=non_finite) for p in self.paths]


def is_image_file(path: Path) -> bool:
    return path.is_file() and full_suffix(path).lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def resolve_inputs(inputs: Sequence[str | Path]) -> tuple[list[InputCase], bool]:
    """The cases named by ``--input`` and whether they came from a folder of cases.

    Several ``--input`` files are the channels of one case; a single folder is a DICOM series
    (one case) or a folder of cases.
    """
    paths = [Path(p) for p in inputs]
    if not paths:
        raise MedSegError("--input: give an image file, one file per channel, or a folder")
    for path in paths:
        if not path.exists():
            raise MedSegError(f"--input {path}: no such file or folder")
    if len(paths) == 1 and paths[0].is_dir():
        folder = paths[0]
        images = sorted(p for p in folder.iterdir() if is_image_file(p))
        if not images:
            if _has_dicom(folder):
                return [InputCase(folder.name, (folder,), 1, ".nii.gz")], False
            raise MedSegError(f"--input {folder}: the folder holds no images ({', '.join(IMAGE_SUFFIXES)}) "
                              "and no DICOM series")
        return _folder_cases(folder, images), True
    for path in paths:
        if path.is_dir():
            raise MedSegError(f"--input {path}: a folder can only be given alone (as a DICOM series or "
                              "a folder of cases), not as one of several channels")
        if not is_image_file(path):
            raise MedSegError(f"--input {path}: not an image file (expected {', '.join(IMAGE_SUFFIXES)})")
    n_channels = _header_channels(paths[0]) if len(paths) == 1 else len(paths)
    stem = file_case_id(paths[0])
    match = _CHANNEL.match(stem)
    case_id = match.group("case") if match and len(paths) > 1 else stem
    return [InputCase(case_id, tuple(paths), n_channels, full_suffix(paths[0]).lower())], False


def _folder_cases(folder: Path, images: list[Path]) -> list[InputCase]:
    stems = {p: file_case_id(p) for p in images}
    if all(_CHANNEL.match(s) for s in stems.values()):
        grouped: dict[str, dict[int, Path]] = {}
        for path, stem in stems.items():
            m = _CHANNEL.match(stem)
            assert m is not None
            grouped.setdefault(m.group("case"), {})[int(m.group("channel"))] = path
        cases = []
        for case_id, channels in sorted(grouped.items()):
            expected = list(range(len(channels)))
            if sorted(channels) != expected:
                raise MedSegError(f"--input {folder}: case {case_id!r} has channel files "
                                  f"{sorted(channels)}; expected _0000 .. _{len(channels) - 1:04d}")
            files = tuple(channels[i] for i in expected)
            cases.append(InputCase(case_id, files, len(files), full_suffix(files[0]).lower()))
        counts = {c.n_channels for c in cases}
        if len(counts) > 1:
            raise MedSegError(f"--input {folder}: cases have different numbers of channels {sorted(counts)}")
        return cases
    return [InputCase(stems[p], (p,), _header_channels(p), full_suffix(p).lower()) for p in images]


def _header_channels(path: Path) -> int:
    return read_header(path).n_channels


def _has_dicom(folder: Path) -> bool:
    import SimpleITK as sitk

    try:
        return bool(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)))
    except RuntimeError:
        return False
