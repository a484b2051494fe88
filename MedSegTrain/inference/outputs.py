"""Writing what ``predict`` produces: the label map, the probabilities, the uncertainty map.

Probabilities are one multi-component image (one float32 component per output channel) on the
input's grid, which NRRD, NIfTI and MetaImage all store; every file is written atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import full_suffix
from MedSegTrain.io import WRITABLE_SUFFIXES, Volume, write_sitk_image


def write_probabilities(probabilities: np.ndarray, reference: Volume, path: Path) -> Path:
    """Write ``(K, z, y, x)`` probabilities as a K-component float32 image on ``reference``'s grid."""
    path = Path(path)
    suffix = full_suffix(path).lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise MedSegError(f"--probabilities {path}: cannot write '{suffix or 'no suffix'}' images; "
                          "use one of "
                          + ", ".join(WRITABLE_SUFFIXES))
    probs = np.asarray(probabilities, dtype=np.float32)
    if probs.shape[1:] != reference.array.shape:
        raise MedSegError(f"probabilities of shape {probs.shape} do not fit the reference grid "
                          f"{reference.array.shape}")
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.moveaxis(probs, 0, -1)), isVector=True)
    image.SetSpacing(reference.spacing)
    image.SetOrigin(reference.origin)
    image.SetDirection(reference.direction)
    return write_sitk_image(image, path, suffix != ".nii", what="--probabilities")


def check_output_path(path: Path, option: str) -> Path:
    """Refuse an output file name whose suffix no writer knows, before any work."""
    path = Path(path)
    if path.is_dir():
        raise MedSegError(f"{option} {path}: is a folder; give a file name ending "
                          + ", ".join(WRITABLE_SUFFIXES))
    if full_suffix(path).lower() not in WRITABLE_SUFFIXES:
        raise MedSegError(f"{option} {path}: give a file name ending " + ", ".join(WRITABLE_SUFFIXES))
    return path
