"""Crops and pads in array order (B5 bounding-box crop, B8 pad to a multiple of 8, X6 fixed size).

Boxes are tuples of ``(start, stop)`` per array axis ``(z, y, x)``; pads are ``(before, after)``
per axis. Each function returns new arrays and the box/pad it used, so the step can be undone
(:func:`uncrop`, :func:`unpad`) on a prediction. numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from MedSegTrain.errors import MedSegError

Box = tuple[tuple[int, int], ...]
Pad = tuple[tuple[int, int], ...]


def bounding_box(mask: np.ndarray, margin: int | Sequence[int] = 0) -> Box | None:
    """The smallest box holding every True voxel of ``mask``, grown by ``margin`` voxels per side.

    The box is clamped to the array; None when the mask is empty. Works per axis with
    ``any`` reductions (no ``argwhere`` over all voxels), so it is cheap on large volumes.
    """
    mask = np.asarray(mask, dtype=bool)
    margins = _per_axis(margin, mask.ndim, "crop margin")
    if any(m < 0 for m in margins):
        raise MedSegError(f"crop margin: must be >= 0, got {margin}")
    box = []
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hit = np.flatnonzero(mask.any(axis=others)) if others else np.flatnonzero(mask)
        if hit.size == 0:
            return None
        start = max(int(hit[0]) - margins[axis], 0)
        stop = min(int(hit[-1]) + 1 + margins[axis], mask.shape[axis])
        box.append((start, stop))
    return tuple(box)


def nonzero_box(arrays: Sequence[np.ndarray], margin: int | Sequence[int] = 0) -> Box:
    """Bounding box of the voxels non-zero in any of ``arrays`` (B5); the whole array when none is."""
    first = np.asarray(arrays[0])
    mask = np.zeros(first.shape, bool)
    for array in arrays:
        mask |= np.asarray(array) != 0
    box = bounding_box(mask, margin)
    return box if box is not None else full_box(first.shape)


def full_box(shape: Sequence[int]) -> Box:
    """The box covering the whole array."""
    return tuple((0, int(n)) for n in shape)


def crop(array: np.ndarray, box: Box) -> np.ndarray:
    """A copy of ``array[box]`` over its last ``len(box)`` axes (leading channel axes are kept)."""
    lead = (slice(None),) * (array.ndim - len(box))
    return np.array(array[lead + tuple(slice(a, b) for a, b in box)])


def uncrop(
    array: np.ndarray, box: Box, shape: Sequence[int], fill: float | Sequence[float] = 0.0
) -> np.ndarray:
    """Put ``array`` (cropped by ``box``) back into an array of spatial ``shape`` filled with ``fill``.

    Leading axes are channels; ``fill`` may give one value per channel of the first axis.
    """
    lead_shape = array.shape[: array.ndim - len(box)]
    out = np.empty(tuple(lead_shape) + tuple(shape), dtype=array.dtype)
    fills = np.asarray(fill, dtype=array.dtype)
    if fills.ndim == 0:
        out.fill(fills)
    else:
        if not lead_shape or fills.shape[0] != lead_shape[0]:
            raise MedSegError(
                f"fill: {fills.shape[0]} value(s) given for {lead_shape[:1] or 'no'} channel(s)"
            )
        out[...] = fills.reshape((-1,) + (1,) * (out.ndim - 1))
    lead = (slice(None),) * len(lead_shape)
    out[lead + tuple(slice(a, b) for a, b in box)] = array
    return out


def pad_to_multiple(
    array: np.ndarray, multiple: int | Sequence[int] = 8, spatial_dims: int = 3, value: float = 0.0
) -> tuple[np.ndarray, Pad]:
    """Pad the last ``spatial_dims`` axes up to a multiple of ``multiple`` (B8), split evenly.

    The extra voxel of an odd pad goes after. Returns the padded copy and the pad used.
    """
    multiples = _per_axis(multiple, spatial_dims, "pad multiple")
    if any(m < 1 for m in multiples):
        raise MedSegError(f"pad multiple: must be >= 1, got {multiple}")
    shape = array.shape[-spatial_dims:]
    target = [-(-n // m) * m for n, m in zip(shape, multiples, strict=True)]
    return pad_to_shape(array, target, value)


def pad_to_shape(array: np.ndarray, shape: Sequence[int], value: float = 0.0) -> tuple[np.ndarray, Pad]:
    """Pad the last ``len(shape)`` axes symmetrically up to ``shape`` (axes already larger are kept)."""
    spatial = array.shape[-len(shape) :]
    pads = []
    for have, want in zip(spatial, shape, strict=True):
        extra = max(int(want) - int(have), 0)
        pads.append((extra // 2, extra - extra // 2))
    pad = tuple(pads)
    if not any(b or a for b, a in pad):
        return np.array(array), pad
    width = ((0, 0),) * (array.ndim - len(shape)) + pad
    return np.pad(array, width, mode="constant", constant_values=value), pad


def unpad(array: np.ndarray, pad: Pad) -> np.ndarray:
    """Remove a pad from the last ``len(pad)`` axes (a view)."""
    lead = (slice(None),) * (array.ndim - len(pad))
    return array[
        lead + tuple(slice(b, array.shape[array.ndim - len(pad) + i] - a) for i, (b, a) in enumerate(pad))
    ]


def center_crop_or_pad(array: np.ndarray, shape: Sequence[int], value: float = 0.0) -> np.ndarray:
    """Centre-crop axes larger than ``shape`` and pad smaller ones, over the last ``len(shape)`` axes."""
    spatial = array.shape[-len(shape) :]
    box = []
    for have, want in zip(spatial, shape, strict=True):
        start = max(int(have) - int(want), 0) // 2
        box.append((start, start + min(int(have), int(want))))
    cropped = crop(array, tuple(box))
    return pad_to_shape(cropped, shape, value)[0]


def _per_axis(value: int | Sequence[int], ndim: int, where: str) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)):
        return (int(value),) * ndim
    values = tuple(int(v) for v in value)
    if len(values) != ndim:
        raise MedSegError(f"{where}: needs 1 or {ndim} values, got {len(values)}")
    return values
