"""DICOM series folders: which series a folder holds, and reading one only when it is whole.

ITK's series reader drops a slice it cannot parse (truncated, corrupt) or that is simply missing,
warns on standard error, and returns a volume whose z spacing is the average over the gap (19 of
20 slices, 2.11 mm instead of 2.0): every distance and volume measured on it is then wrong. A
series is therefore read only when every file in the folder belongs to a series, and the slice
positions along the slice normal are evenly spaced; otherwise the slice is named.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from MedSegTrain.errors import MedSegError

# Files that may sit beside a series without being slices of it.
_NOT_SLICES = {".txt", ".md", ".json", ".xml", ".csv", ".pdf", ".png", ".jpg", ".jpeg", ".html", ".log",
               ".nii", ".gz", ".nrrd", ".mha", ".mhd", ".raw", ".zip", ".yaml", ".yml"}
_SPACING_TOLERANCE = 0.01  # relative deviation of one gap from the median gap


def list_dicom_series(folder: str | Path) -> dict[str, list[str]]:
    """Series instance UID -> slice files sorted by GDCM, for every DICOM series directly in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MedSegError(f"{folder}: is not a folder")
    reader = sitk.ImageSeriesReader()
    uids = reader.GetGDCMSeriesIDs(str(folder))
    return {uid: list(reader.GetGDCMSeriesFileNames(str(folder), uid)) for uid in uids}


def read_dicom_series(folder: Path, series_uid: str | None = None) -> sitk.Image:
    """The series ``series_uid`` of ``folder`` (default: the one with the most files, with a warning
    when there are several), refused when a slice is unreadable or missing."""
    series = list_dicom_series(folder)
    if not series:
        raise MedSegError(f"{folder}: no DICOM series found in this folder")
    if series_uid is not None:
        if series_uid not in series:
            raise MedSegError(f"{folder}: no DICOM series with UID {series_uid}; found "
                              + ", ".join(sorted(series)))
        uid = series_uid
    else:
        uid = max(series, key=lambda key: len(series[key]))
        if len(series) > 1:
            warnings.warn(f"{folder}: holds {len(series)} DICOM series; reading {uid} "
                          f"({len(series[uid])} files), the largest (pass a series UID to choose)",
                          UserWarning, stacklevel=4)
    _refuse_unreadable_files(folder, series)
    files = _evenly_spaced(folder, series[uid], uid)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    try:
        return reader.Execute()
    except RuntimeError as exc:
        raise MedSegError(f"{folder}: cannot read DICOM series {uid} ({str(exc).strip().splitlines()[-1]})"
                          ) from None


def _refuse_unreadable_files(folder: Path, series: dict[str, list[str]]) -> None:
    """A file that belongs to no series is a slice GDCM could not parse, unless it is plainly
    something else (a hidden file, DICOMDIR, notes, an exported image)."""
    members = {Path(name).name for files in series.values() for name in files}
    strays = sorted(p.name for p in folder.iterdir()
                    if p.is_file() and p.name not in members and not p.name.startswith(".")
                    and p.name.upper() != "DICOMDIR" and p.suffix.lower() not in _NOT_SLICES)
    if strays:
        shown = ", ".join(strays[:5]) + (f" and {len(strays) - 5} more" if len(strays) > 5 else "")
        raise MedSegError(f"{folder}: {len(strays)} file(s) are not readable DICOM slices ({shown}); a "
                          "series with a damaged slice is refused rather than read with the slice left out "
                          "(remove the file if it is not part of the scan)")


def _evenly_spaced(folder: Path, files: list[str], uid: str) -> list[str]:
    """``files`` (in GDCM's order) after refusing uneven gaps along the slice normal (a missing
    slice) and repeated positions; series without position tags are not checked."""
    positions = [_position(Path(name)) for name in files]
    if len(files) < 3 or any(p is None for p in positions):
        return files
    normal = _normal(Path(files[0]))
    if normal is None:
        return files
    depth = np.array([float(np.dot(p, normal)) for p in positions])
    order = np.argsort(depth, kind="stable")
    depth = depth[order]
    ordered = [Path(files[i]).name for i in order]
    gaps = np.diff(depth)
    typical = float(np.median(gaps))
    if typical <= 0:
        raise MedSegError(f"{folder}: {_series(uid)} has several slices at one position; "
                          "it cannot be stacked into a volume")
    for k, gap in enumerate(gaps):
        if abs(gap - typical) > _SPACING_TOLERANCE * typical:
            what = "missing slice(s)" if gap > typical else "an extra or repeated slice"
            raise MedSegError(
                f"{folder}: {_series(uid)} is not evenly spaced: {ordered[k]} and {ordered[k + 1]} are "
                f"{gap:.4g} mm apart where the other slices are "
                f"{typical:.4g} mm apart ({what}?); it is refused rather than read with a wrong z spacing")
    return files


def _series(uid: str) -> str:
    return f"DICOM series {uid}" if uid else "the DICOM series"


def _tags(path: Path) -> sitk.ImageFileReader:
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.LoadPrivateTagsOff()
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise MedSegError(f"{path}: is not a readable DICOM slice") from None
    return reader


def _position(path: Path) -> np.ndarray | None:
    reader = _tags(path)
    if not reader.HasMetaDataKey("0020|0032"):
        return None
    return _numbers(reader.GetMetaData("0020|0032"), 3)


def _normal(path: Path) -> np.ndarray | None:
    reader = _tags(path)
    if not reader.HasMetaDataKey("0020|0037"):
        return None
    cosines = _numbers(reader.GetMetaData("0020|0037"), 6)
    if cosines is None:
        return None
    normal = np.cross(cosines[:3], cosines[3:])
    length = float(np.linalg.norm(normal))
    return normal / length if length > 1e-6 else None


def _numbers(text: str, count: int) -> np.ndarray | None:
    try:
        values = np.array([float(v) for v in text.strip().split("\\")], dtype=np.float64)
    except ValueError:
        return None
    return values if values.size == count and np.all(np.isfinite(values)) else None
