"""Resampling between voxel grids through SimpleITK (L4 target spacing, X6 fixed in-plane size).

Grids are :class:`MedSegTrain.io.Geometry` (``(x, y, z)`` order). A new grid covers the same
physical box as the old one (voxel edges aligned, as ``align_corners=False`` in torch): its
first voxel centre sits half a new voxel inside the old grid's corner, along the image's own
direction, so origin/direction semantics are kept and going back and forth does not drift.
Values beyond the outermost voxel centres are taken from the nearest voxel (no dark rims).

Interpolators: ``linear`` and ``bspline`` (cubic) for images and probabilities, ``nearest``
for labels, ``label-gaussian`` (SimpleITK's smooth label interpolator) for labels that should
not get staircase edges when strongly upsampled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import SimpleITK as sitk

from MedSegTrain import limits
from MedSegTrain.errors import MedSegError
from MedSegTrain.io import Geometry, Volume

INTERPOLATORS = {
    "linear": sitk.sitkLinear,
    "bspline": sitk.sitkBSpline,
    "nearest": sitk.sitkNearestNeighbor,
    "label-gaussian": sitk.sitkLabelGaussian,
}


def spacing_geometry(geometry: Geometry, spacing: Sequence[float]) -> Geometry:
    """The grid with ``spacing`` (x, y, z) covering ``geometry``'s physical box (size rounded, >= 1)."""
    spacing = _positive(spacing, geometry.ndim, "target spacing")
    size = [
        max(1, round(n * s / t)) for n, s, t in zip(geometry.size, geometry.spacing, spacing, strict=True)
    ]
    limits.check("voxels", math.prod(size), f"resampling {geometry.size} voxels of "
                 f"{tuple(round(s, 4) for s in geometry.spacing)} mm to {tuple(spacing)} mm")
    return _aligned(geometry, size, spacing)


def size_geometry(geometry: Geometry, size: Sequence[int]) -> Geometry:
    """The grid of ``size`` (x, y, z) voxels covering exactly ``geometry``'s physical box."""
    size = [int(v) for v in size]
    if len(size) != geometry.ndim or any(v < 1 for v in size):
        raise MedSegError(f"target size: needs {geometry.ndim} positive integers, got {size}")
    limits.check("voxels", math.prod(size), f"target size {tuple(size)}")
    spacing = [n * s / t for n, s, t in zip(geometry.size, geometry.spacing, size, strict=True)]
    return _aligned(geometry, size, spacing)


def resample_array(
    array: np.ndarray,
    source: Geometry,
    target: Geometry,
    interpolation: str = "linear",
    default: float = 0.0,
    extrapolate: bool = True,
) -> np.ndarray:
    """Resample ``array`` on ``source`` onto ``target``.

    ``array`` is ``(z, y, x)`` or ``(C, z, y, x)`` (channels resampled alike). Images keep
    float32 (other float types become float32), labels keep their integer dtype. Returns the
    input unchanged (a copy) when the grids already agree. Target voxels beyond the source's
    outermost voxel centres take the nearest voxel's value, or ``default`` without ``extrapolate``
    (a label map on a smaller grid: background outside it).
    """
    interpolator = _interpolator(interpolation)
    data = np.asarray(array)
    spatial = data.shape[-source.ndim :]
    if tuple(spatial) != source.shape:
        raise MedSegError(f"resample: array shape {data.shape} does not match its grid {source.shape}")
    if data.ndim not in (source.ndim, source.ndim + 1):
        raise MedSegError(f"resample: expected a {source.ndim}D array or channels of them, got {data.shape}")
    if source.same_as(target, tol=1e-9):
        return np.array(data)
    if data.dtype.kind == "f" and data.dtype != np.float32:
        data = data.astype(np.float32)
    if data.dtype.kind == "b":
        data = data.astype(np.uint8)
    channels = data[None] if data.ndim == source.ndim else data
    fast = _aligned_linear(channels, source, target) if interpolation == "linear" and extrapolate else None
    if fast is not None:
        out = fast
    elif interpolation in ("linear", "nearest") and channels.shape[0] > 1:
        image = sitk.GetImageFromArray(np.ascontiguousarray(np.moveaxis(channels, 0, -1)), isVector=True)
        out = sitk.GetArrayFromImage(_resample(image, source, target, interpolator, default, extrapolate))
        out = np.moveaxis(out, -1, 0)
    else:
        out = np.stack(
            [
                sitk.GetArrayFromImage(
                    _resample(
                        sitk.GetImageFromArray(np.ascontiguousarray(c)),
                        source, target, interpolator, default, extrapolate,
                    )
                )
                for c in channels
            ]
        )
    out = out.astype(data.dtype, copy=False)
    return out[0] if data.ndim == source.ndim else out


def resample_volume(volume: Volume, spacing: Sequence[float], interpolation: str = "linear") -> Volume:
    """``volume`` resampled to ``spacing`` (x, y, z) over the same physical box."""
    target = spacing_geometry(volume.geometry, spacing)
    return Volume.from_geometry(resample_array(volume.array, volume.geometry, target, interpolation), target)


def resample_to_reference(
    volume: Volume, reference: Geometry, interpolation: str = "linear", extrapolate: bool = True
) -> Volume:
    """``volume`` resampled onto the ``reference`` grid (e.g. a label onto its image).

    Without ``extrapolate``, reference voxels outside ``volume``'s grid are 0 (background).
    """
    return Volume.from_geometry(
        resample_array(volume.array, volume.geometry, reference, interpolation, extrapolate=extrapolate),
        reference,
    )


def _aligned_linear(channels: np.ndarray, source: Geometry, target: Geometry) -> np.ndarray | None:
    """Linear resampling with torch's separable kernel when the two grids share direction and
    lower corner (every grid made here does); None when that does not hold.

    Target voxel ``i`` samples source index ``(i + 0.5) * t / s - 0.5`` per axis, clamped to the
    outermost centres: linear along the axes inside, constant along the axis beyond, where
    SimpleITK's nearest-neighbour extrapolator turns *all* axes to nearest at the rim. Same
    values inside; faster (benchmark in Testing/benchmarks/bench_preprocessing.py).
    """
    if channels.dtype != np.float32 or source.ndim not in (2, 3):
        return None
    if not np.allclose(source.direction, target.direction, atol=1e-9):
        return None
    half_source = source.direction_matrix @ (0.5 * np.asarray(source.spacing))
    half_target = target.direction_matrix @ (0.5 * np.asarray(target.spacing))
    corner_gap = (np.asarray(source.origin) - half_source) - (np.asarray(target.origin) - half_target)
    if np.abs(corner_gap).max() > 1e-6 * max(1.0, float(np.abs(source.origin).max())):
        return None
    ratio = np.asarray(target.spacing) / np.asarray(source.spacing)
    if np.any((np.asarray(target.size) - 0.5) * ratio - 0.5 >= np.asarray(source.size)):
        return None  # the target reaches beyond the source by more than half a voxel
    import torch

    scales = [float(v) for v in reversed(1.0 / ratio)]  # (z, y, x): output voxels per input voxel
    tensor = torch.from_numpy(np.ascontiguousarray(channels))[None]
    if source.ndim == 3:
        out = torch.ops.aten.upsample_trilinear3d.default(tensor, list(target.shape), False, *scales)
    else:
        out = torch.ops.aten.upsample_bilinear2d.default(tensor, list(target.shape), False, *scales)
    return out[0].numpy()


def _resample(
    image: sitk.Image, source: Geometry, target: Geometry, interpolator: int, default: float,
    extrapolate: bool = True,
) -> sitk.Image:
    image.SetSpacing(source.spacing)
    image.SetOrigin(source.origin)
    image.SetDirection(source.direction)
    resampler = sitk.ResampleImageFilter()
    resampler.SetSize([int(v) for v in target.size])
    resampler.SetOutputSpacing(target.spacing)
    resampler.SetOutputOrigin(target.origin)
    resampler.SetOutputDirection(target.direction)
    resampler.SetInterpolator(interpolator)
    resampler.SetDefaultPixelValue(default)
    resampler.SetUseNearestNeighborExtrapolator(extrapolate)
    resampler.SetOutputPixelType(image.GetPixelID())
    return resampler.Execute(image)


def _aligned(geometry: Geometry, size: Sequence[int], spacing: Sequence[float]) -> Geometry:
    old = np.asarray(geometry.spacing)
    new = np.asarray(spacing, dtype=np.float64)
    shift = geometry.direction_matrix @ (0.5 * (new - old))
    origin = np.asarray(geometry.origin) + shift
    return Geometry(tuple(size), tuple(new.tolist()), tuple(origin.tolist()), geometry.direction)


def _interpolator(name: str) -> int:
    if name not in INTERPOLATORS:
        raise MedSegError(f"interpolation: {name!r} is not one of {', '.join(INTERPOLATORS)}")
    return INTERPOLATORS[name]


def _positive(values: Sequence[float], ndim: int, where: str) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise MedSegError(f"{where}: expected {ndim} numbers (x, y, z), got {values!r}") from None
    if len(out) != ndim or not all(np.isfinite(v) and v > 0 for v in out):
        raise MedSegError(f"{where}: expected {ndim} positive numbers (x, y, z), got {values!r}")
    return out
