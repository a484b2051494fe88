"""Medical image input/output through SimpleITK, with the geometry kept exactly.

Axis order (binding for the whole package, see ``docs/architecture.md``):

* ``Volume.array`` is indexed ``[z, y, x]`` (SimpleITK's ``GetArrayFromImage`` order).
* ``spacing``, ``origin`` and ``Geometry.size`` are in ITK order ``(x, y, z)``;
  ``direction`` is the row-major ``d x d`` direction matrix flattened to ``d*d`` values.

2D images stay 2D: a file with two dimensions gives an array ``(y, x)`` and tuples of length 2;
a 3D file with a single slice stays 3D with ``z = 1``. Nothing is promoted silently.

Formats: NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``, ``.nhdr``), MetaImage (``.mha``,
``.mhd`` + ``.raw`` written together) and DICOM series folders (read only). Multi-component and
4D files are refused by :func:`read_image`; :func:`read_channels` splits them into scalar volumes
(the Medical Segmentation Decathlon stores multi-modal MR as one 4D NIfTI).

:func:`reorient_like` moves an image whose grid has the same voxel centres in another index
order (a flipped or permuted axis) onto a reference grid without interpolation.

:data:`IMAGE_SUFFIXES` and :func:`case_id` are the one list of image file suffixes and the one
file-name-to-case-id rule of the package (evaluation, ``predict`` inputs, dataset descriptions
and the Slicer module use them).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from MedSegTrain import limits
from MedSegTrain.dicom import read_dicom_series
from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import atomic_output_file, full_suffix
from MedSegTrain.image_data import check_complete

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")  # the image files read and written
WRITABLE_SUFFIXES = IMAGE_SUFFIXES  # every file format read is written too (DICOM is a folder)
_CHANNEL_NUMBER = 5  # "_0000": nnU-Net's channel number after a case id


def case_id(path: str | Path, channel_suffix: bool = False, any_suffix: bool = False) -> str:
    """The case id a file name stands for: the name without its image suffix (``case.nii.gz`` -> ``case``).

    The suffix is one of :data:`IMAGE_SUFFIXES`, in any letter case. ``channel_suffix`` drops an
    nnU-Net channel number too (``case_0000.nii.gz`` -> ``case``). A name without an image suffix
    is kept whole (a DICOM folder, a file of another kind), unless ``any_suffix``: then what
    follows its last dot goes (a dataset description may name other formats, e.g. ``.png``).
    """
    name = Path(path).name
    lower = name.lower()
    stem = next((name[: -len(s)] for s in IMAGE_SUFFIXES if lower.endswith(s)), None)
    if stem is None:
        before, dot, _ext = name.rpartition(".")
        stem = before if any_suffix and dot else name
    n = _CHANNEL_NUMBER
    if channel_suffix and len(stem) > n and stem[-n] == "_" and stem[-n + 1:].isdigit():
        stem = stem[:-n]
    return stem


@dataclass(frozen=True)
class Geometry:
    """The voxel grid of an image: ``size``/``spacing``/``origin`` in ``(x, y, z)`` order."""

    size: tuple[int, ...]
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", tuple(int(v) for v in self.size))
        object.__setattr__(self, "spacing", tuple(float(v) for v in self.spacing))
        object.__setattr__(self, "origin", tuple(float(v) for v in self.origin))
        object.__setattr__(self, "direction", tuple(float(v) for v in self.direction))
        _check_grid(len(self.size), self.spacing, self.origin, self.direction, "geometry")

    @property
    def ndim(self) -> int:
        """Number of spatial dimensions (2 or 3)."""
        return len(self.size)

    @property
    def shape(self) -> tuple[int, ...]:
        """The array shape of an image on this grid, ``(z, y, x)`` order."""
        return tuple(reversed(self.size))

    @property
    def direction_matrix(self) -> np.ndarray:
        """The direction as a ``(d, d)`` matrix; column ``i`` is the physical direction of index axis i."""
        return np.asarray(self.direction, dtype=np.float64).reshape(self.ndim, self.ndim)

    def index_to_physical(self, index_xyz: np.ndarray) -> np.ndarray:
        """Physical points (mm) of continuous indices ``(..., d)`` given in ``(x, y, z)`` order."""
        idx = np.asarray(index_xyz, dtype=np.float64)
        scaled = idx * np.asarray(self.spacing)
        return scaled @ self.direction_matrix.T + np.asarray(self.origin)

    def physical_bounds(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Axis-aligned box ``(lower, upper)`` in mm enclosing every voxel (voxel edges, not centres)."""
        corners = np.array(np.meshgrid(*[(-0.5, s - 0.5) for s in self.size], indexing="ij"))
        corners = corners.reshape(self.ndim, -1).T
        points = self.index_to_physical(corners)
        return tuple(points.min(axis=0).tolist()), tuple(points.max(axis=0).tolist())

    def same_as(self, other: Geometry, tol: float = 1e-5) -> bool:
        """Equal size, and spacing/origin/direction equal within ``tol`` (relative for large values)."""
        if self.size != other.size:
            return False
        pairs = zip(self.spacing + self.origin + self.direction,
                    other.spacing + other.origin + other.direction, strict=True)
        return all(abs(a - b) <= tol * max(1.0, abs(a), abs(b)) for a, b in pairs)

    def to_dict(self) -> dict[str, list[Any]]:
        """Plain JSON-ready form."""
        return {"size": list(self.size), "spacing": list(self.spacing),
                "origin": list(self.origin), "direction": list(self.direction)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Geometry:
        """Inverse of :meth:`to_dict`; raises :class:`MedSegError` on a malformed mapping."""
        try:
            return cls(tuple(data["size"]), tuple(data["spacing"]), tuple(data["origin"]),
                       tuple(data["direction"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise MedSegError(f"malformed geometry {data!r}: {exc}") from None


@dataclass(frozen=True, eq=False)
class Volume:
    """A scalar image: ``array`` indexed ``[z, y, x]`` plus its physical grid in ``(x, y, z)`` order.

    The array keeps its dtype (labels stay integer, CT stays int16 ...). Volumes compare by
    identity (``==`` on arrays is ambiguous); compare ``.geometry`` and ``.array`` explicitly.
    """

    array: np.ndarray
    spacing: tuple[float, ...]
    origin: tuple[float, ...]
    direction: tuple[float, ...]

    def __post_init__(self) -> None:
        array = np.asarray(self.array)
        if array.ndim not in (2, 3):
            raise MedSegError(f"a Volume holds a 2D or 3D scalar array, got shape {array.shape}")
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "spacing", tuple(float(v) for v in self.spacing))
        object.__setattr__(self, "origin", tuple(float(v) for v in self.origin))
        object.__setattr__(self, "direction", tuple(float(v) for v in self.direction))
        _check_grid(array.ndim, self.spacing, self.origin, self.direction, "volume")

    @classmethod
    def from_geometry(cls, array: np.ndarray, geometry: Geometry) -> Volume:
        """A volume with ``array`` on ``geometry`` (shapes must agree)."""
        array = np.asarray(array)
        if array.shape != geometry.shape:
            raise MedSegError(f"array shape {array.shape} does not match the grid shape {geometry.shape}")
        return cls(array, geometry.spacing, geometry.origin, geometry.direction)

    @property
    def geometry(self) -> Geometry:
        """The grid of this volume."""
        return Geometry(tuple(reversed(self.array.shape)), self.spacing, self.origin, self.direction)

    @property
    def ndim(self) -> int:
        """Number of spatial dimensions (2 or 3)."""
        return self.array.ndim

    @property
    def spacing_zyx(self) -> tuple[float, ...]:
        """Spacing in array order ``(z, y, x)`` (what MONAI and scipy expect)."""
        return tuple(reversed(self.spacing))

    def with_array(self, array: np.ndarray) -> Volume:
        """A new volume with the same geometry and another array of the same shape."""
        return Volume.from_geometry(array, self.geometry)

    def to_sitk(self) -> sitk.Image:
        """The SimpleITK image (bool arrays become uint8, float16 becomes float32)."""
        array = self.array
        if array.dtype == np.bool_:
            array = array.astype(np.uint8)
        elif array.dtype == np.float16:
            array = array.astype(np.float32)
        image = sitk.GetImageFromArray(np.ascontiguousarray(array), isVector=False)
        image.SetSpacing(self.spacing)
        image.SetOrigin(self.origin)
        image.SetDirection(self.direction)
        return image

    @classmethod
    def from_sitk(cls, image: sitk.Image, source: str = "image") -> Volume:
        """Wrap a scalar 2D/3D SimpleITK image; ``source`` names it in error messages."""
        if image.GetNumberOfComponentsPerPixel() != 1:
            raise MedSegError(f"{source}: has {image.GetNumberOfComponentsPerPixel()} components per "
                              "voxel; read it with read_channels() to split the channels")
        if image.GetDimension() not in (2, 3):
            raise MedSegError(f"{source}: is {image.GetDimension()}D; read it with read_channels() "
                              "to split a 4D image into 3D channels")
        return cls(sitk.GetArrayFromImage(image), image.GetSpacing(), image.GetOrigin(),
                   image.GetDirection())


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says, without reading the voxels.

    ``geometry`` is the spatial grid (for a 4D file: its first three axes); ``n_channels`` counts
    vector components or the fourth axis; ``pixel_type`` is SimpleITK's component type string.
    """

    path: Path
    geometry: Geometry
    n_channels: int
    pixel_type: str
    file_dimension: int


def read_header(path: str | Path) -> ImageHeader:
    """Read only the header of an image file (fast; for validation). DICOM folders are read fully."""
    path = Path(path)
    if path.is_dir():
        volume = read_image(path)
        return ImageHeader(path, volume.geometry, 1, str(volume.array.dtype), volume.ndim)
    reader = _file_reader(path)
    _read_information(reader, path)
    dim = reader.GetDimension()
    size, spacing = reader.GetSize(), reader.GetSpacing()
    origin, direction = reader.GetOrigin(), reader.GetDirection()
    components = reader.GetNumberOfComponents()
    if dim == 4:
        geometry = Geometry(size[:3], spacing[:3], origin[:3], _sub_direction(direction, 4, 3))
        n_channels = size[3] * components
    elif dim in (2, 3):
        geometry = Geometry(size, spacing, origin, direction)
        n_channels = components
    else:
        raise MedSegError(f"{path}: {dim}D images are not supported (2D, 3D or 4D only)")
    pixel_type = sitk.GetPixelIDValueAsString(reader.GetPixelID())
    return ImageHeader(path, geometry, n_channels, pixel_type, dim)


def read_image(path: str | Path, series_uid: str | None = None, non_finite: float | None = None) -> Volume:
    """Read a scalar 2D/3D image file or a DICOM series folder.

    A folder holding several DICOM series gives the one with the most files (with a warning
    naming the choice) unless ``series_uid`` selects one. 4D and multi-component files raise
    :class:`MedSegError`; use :func:`read_channels` for them. NaN or infinite voxels are refused,
    or replaced by ``non_finite`` when given (with a warning saying how many).
    """
    path = Path(path)
    if path.is_dir():
        return Volume.from_sitk(_non_finite_handled(read_dicom_series(path, series_uid), path, non_finite),
                                str(path))
    reader = _file_reader(path)
    _read_information(reader, path)
    dim, components = reader.GetDimension(), reader.GetNumberOfComponents()
    if dim == 4 or components != 1:
        what = f"a 4D image of size {reader.GetSize()}" if dim == 4 else f"a {components}-component image"
        raise MedSegError(f"{path}: is {what}; a scalar 2D/3D image is needed here "
                          "(read_channels() splits multi-channel files)")
    return Volume.from_sitk(_execute(reader, path, non_finite), str(path))


def read_channels(path: str | Path, non_finite: float | None = None) -> list[Volume]:
    """Read an image and split it into scalar 3D channels.

    A 4D file (MSD style, channels on the fourth axis) or a multi-component file gives one
    volume per channel; a scalar file gives a one-element list. ``non_finite`` as in :func:`read_image`.
    """
    path = Path(path)
    if path.is_dir():
        return [read_image(path, non_finite=non_finite)]
    reader = _file_reader(path)
    _read_information(reader, path)
    image = _execute(reader, path, non_finite)
    if image.GetNumberOfComponentsPerPixel() > 1:
        return [Volume.from_sitk(sitk.VectorIndexSelectionCast(image, c), f"{path} channel {c}")
                for c in range(image.GetNumberOfComponentsPerPixel())]
    if image.GetDimension() == 4:
        n = image.GetSize()[3]
        direction = _sub_direction(image.GetDirection(), 4, 3)
        array4 = sitk.GetArrayFromImage(image)  # (t, z, y, x)
        return [Volume(array4[c], image.GetSpacing()[:3], image.GetOrigin()[:3], direction)
                for c in range(n)]
    return [Volume.from_sitk(image, str(path))]


def write_image(volume: Volume, path: str | Path, compress: bool = True) -> Path:
    """Write ``volume`` atomically; the format follows the suffix (``.mhd`` writes ``.raw``/``.zraw`` too)."""
    path = Path(path)
    suffix = full_suffix(path).lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise MedSegError(f"{path}: cannot write '{suffix or 'no suffix'}' images; use one of "
                          + ", ".join(WRITABLE_SUFFIXES))
    if not isinstance(volume, Volume):
        raise MedSegError(f"{path}: write_image needs a Volume, got {type(volume).__name__}")
    return write_sitk_image(volume.to_sitk(), path, compress and suffix != ".nii")


def write_sitk_image(image: sitk.Image, path: str | Path, compress: bool = True, what: str = "") -> Path:
    """Write a SimpleITK image atomically and verified: read back voxel for voxel before it gets its
    final name, so a full disk or a failing writer leaves nothing under ``path``. ``what`` (e.g. an
    option name) starts the error message."""
    path = Path(path)
    where = f"{what} {path}" if what else str(path)
    try:
        with atomic_output_file(path) as tmp:
            sitk.WriteImage(image, str(tmp), compress)
            _check_written(tmp, image, where)
    except RuntimeError as exc:
        raise MedSegError(f"{where}: cannot write the image ({_first_line(exc)})") from None
    except OSError as exc:
        raise MedSegError(f"{where}: cannot write the image ({exc.strerror or exc})") from None
    return path


def _check_written(written: Path, image: sitk.Image, final: str) -> None:
    """Read the written file back and compare every voxel before it gets its final name: the NIfTI
    writer reports a short write (a full disk) only on stderr and returns normally, and ITK reads a
    truncated file (gzip or not) without complaint, filling the missing voxels with zeros."""
    try:
        back = sitk.ReadImage(str(written))
        complete = back.GetSize() == image.GetSize() and np.array_equal(
            sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(image),
            equal_nan=np.issubdtype(sitk.GetArrayViewFromImage(image).dtype, np.floating))
    except RuntimeError:
        complete = False
    if not complete:
        raise MedSegError(f"{final}: the image could not be written completely (is the disk full or "
                          "read-only?); nothing was written under this name")


def reorient_like(volume: Volume, target: Geometry, tol: float = 1e-4) -> Volume | None:
    """``volume`` on the ``target`` grid when both grids have the same voxel centres in a different
    index order (axes flipped or permuted, e.g. a label stored with a flipped y axis); else None.

    Lossless (voxels are only moved, never interpolated), so label maps stay exact. Grids that
    differ otherwise need resampling, which this function does not do.
    """
    if volume.geometry.same_as(target, tol):
        return Volume.from_geometry(volume.array, target)
    mapping = _axis_mapping(volume.geometry, target, tol)
    if mapping is None:
        return None
    order, flips = mapping
    array = np.transpose(volume.array, order)
    if flips:
        array = np.flip(array, flips)
    return Volume.from_geometry(np.ascontiguousarray(array), target)


def same_voxel_centres(a: Geometry, b: Geometry, tol: float = 1e-4) -> bool:
    """True when ``a`` and ``b`` place their voxels at the same points, in any axis order."""
    return a.same_as(b, tol) or _axis_mapping(a, b, tol) is not None


def _axis_mapping(source: Geometry, target: Geometry,
                  tol: float) -> tuple[list[int], tuple[int, ...]] | None:
    """Array transpose order and flipped array axes taking ``source`` voxels onto ``target``."""
    nd = target.ndim
    if source.ndim != nd:
        return None
    to_target = np.linalg.inv(target.direction_matrix * np.asarray(target.spacing))
    affine = to_target @ (source.direction_matrix * np.asarray(source.spacing))
    offset = to_target @ (np.asarray(source.origin) - np.asarray(target.origin))
    signs = np.rint(affine)
    permutation = np.abs(signs)
    if (np.abs(affine - signs).max() > tol or not np.all(permutation.sum(0) == 1)
            or not np.all(permutation.sum(1) == 1)):
        return None
    axis_of = [int(np.flatnonzero(signs[t])[0]) for t in range(nd)]  # source ITK axis per target axis
    for t, s in enumerate(axis_of):
        expected = 0.0 if signs[t, s] > 0 else source.size[s] - 1.0
        if target.size[t] != source.size[s] or abs(offset[t] - expected) > tol * max(1.0, expected):
            return None
    # array axes run (z, y, x): array axis k holds ITK axis nd-1-k
    order = [nd - 1 - axis_of[nd - 1 - k] for k in range(nd)]
    flips = tuple(k for k in range(nd) if signs[nd - 1 - k, axis_of[nd - 1 - k]] < 0)
    return order, flips


def _file_reader(path: Path) -> sitk.ImageFileReader:
    if not path.exists():
        raise MedSegError(f"{path}: file not found")
    if not path.is_file():
        raise MedSegError(f"{path}: is not a regular file")
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    return reader


def _read_information(reader: sitk.ImageFileReader, path: Path) -> None:
    """Read the header, then refuse before any allocation an image above the voxel limit or with
    less voxel data than the header declares (ITK would fill the rest with zeros)."""
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise MedSegError(f"{path}: cannot read the image header ({_first_line(exc)})") from None
    limits.check("voxels", math.prod(reader.GetSize()) * reader.GetNumberOfComponents(), str(path))
    check_complete(path)


def _execute(reader: sitk.ImageFileReader, path: Path, non_finite: float | None = None) -> sitk.Image:
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise MedSegError(f"{path}: cannot read the image ({_first_line(exc)})") from None
    return _non_finite_handled(image, path, non_finite)


def _non_finite_handled(image: sitk.Image, path: Path, replacement: float | None) -> sitk.Image:
    """NaN or infinite voxels are refused: one of them turns a z-score or a min-max normalisation into
    NaN everywhere, and the model then predicts background for the whole volume without a word. With
    an explicit ``replacement`` they become that value instead, and a warning says how many."""
    array = sitk.GetArrayViewFromImage(image)
    if not np.issubdtype(array.dtype, np.floating):
        return image
    finite = np.isfinite(array)
    bad = int(array.size - np.count_nonzero(finite))
    if not bad:
        return image
    if replacement is None:
        raise MedSegError(f"{path}: {bad} voxel(s) are NaN or infinite; fix or mask them before use "
                          "(an image needs finite intensities everywhere), or give a replacement value "
                          "(predict --replace-non-finite V)")
    if not math.isfinite(replacement):
        raise MedSegError(f"--replace-non-finite must be a finite number, got {replacement}")
    fixed = np.where(finite, array, np.asarray(replacement, dtype=array.dtype))
    out = sitk.GetImageFromArray(fixed, isVector=image.GetNumberOfComponentsPerPixel() > 1)
    out.CopyInformation(image)
    warnings.warn(f"{path}: replaced {bad} NaN or infinite voxel(s) by {replacement:g}", UserWarning,
                  stacklevel=4)
    return out


def _sub_direction(direction: tuple[float, ...], dim: int, keep: int) -> tuple[float, ...]:
    matrix = np.asarray(direction, dtype=np.float64).reshape(dim, dim)
    return tuple(matrix[:keep, :keep].ravel().tolist())


def _check_grid(ndim: int, spacing: tuple[float, ...], origin: tuple[float, ...],
                direction: tuple[float, ...], what: str) -> None:
    if ndim not in (2, 3):
        raise MedSegError(f"{what}: 2 or 3 spatial dimensions are supported, got {ndim}")
    if len(spacing) != ndim or len(origin) != ndim or len(direction) != ndim * ndim:
        raise MedSegError(f"{what}: spacing/origin need {ndim} values and direction {ndim * ndim}, got "
                          f"{len(spacing)}/{len(origin)}/{len(direction)}")
    if not all(math.isfinite(s) and s > 0 for s in spacing):
        raise MedSegError(f"{what}: spacing must be positive and finite, got {spacing}")
    if not all(math.isfinite(v) for v in origin + direction):
        raise MedSegError(f"{what}: origin and direction must be finite")


def _first_line(exc: BaseException) -> str:
    """The informative line of an ITK exception: a reader's own detail (NRRD's innermost ``[nrrd]``
    line says how many bytes were expected and found) before the generic ``ITK ERROR`` line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    nrrd = [line for line in lines if line.startswith("[nrrd]") and not line.endswith((":", "trouble"))]
    generic = next((line for line in lines if "ERROR" in line or "error" in line), lines[-1] if lines else "")
    detail = nrrd[-1] if nrrd else generic
    return detail[:300]
