"""2D slice handling: label merging and slice extraction (T1), random slice reduction and in-plane
downsampling (C3).

Arrays are ``(z, y, x)`` labels and ``(C, z, y, x)`` or ``(z, y, x)`` images; slices are taken
along z (axis -3). Everything is vectorised (per-slice counts with one ``sum``), so a 512×512×300
CT costs one pass over its label. Random choices take a ``numpy.random.Generator``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from MedSegTrain.errors import MedSegError


def merge_labels(label: np.ndarray, mapping: Mapping[int, int]) -> np.ndarray:
    """A copy of ``label`` with values renamed by ``mapping`` (e.g. ``{1: 1, 2: 1}``: CG + PZ → prostate, T1).

    Values not in ``mapping`` are kept. Uses a lookup table, one pass over the voxels.
    """
    data = np.asarray(label)
    if data.dtype.kind not in "iub":
        raise MedSegError(f"merge_labels: needs an integer label map, got dtype {data.dtype}")
    if not mapping:
        return data.copy()
    keys = np.array([int(k) for k in mapping], dtype=np.int64)
    values = np.array([int(v) for v in mapping.values()], dtype=np.int64)
    if (keys < 0).any() or (values < 0).any():
        raise MedSegError(f"merge_labels: label values must be >= 0, got {dict(mapping)}")
    top = int(max(keys.max(), data.max(initial=0)))
    table = np.arange(top + 1, dtype=np.int64)
    table[keys] = values
    out_dtype = np.result_type(data.dtype, np.min_scalar_type(int(values.max())))
    return table[data.astype(np.int64, copy=False)].astype(out_dtype, copy=False)


def foreground_per_slice(label: np.ndarray) -> np.ndarray:
    """Number of non-zero voxels in each z slice of a ``(z, y, x)`` label."""
    data = np.asarray(label)
    if data.ndim != 3:
        raise MedSegError(f"label: expected a (z, y, x) array, got shape {data.shape}")
    return np.count_nonzero(data.reshape(data.shape[0], -1), axis=1)


def extract_slices(
    image: np.ndarray, label: np.ndarray, min_pixels: int = 200, merge: Mapping[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The z slices whose (merged) mask has more than ``min_pixels`` foreground pixels (T1: 200).

    Returns ``(images (N, C, y, x) or (N, y, x), labels (N, y, x), slice indices)``; copies.
    """
    data, lab = _check_pair(image, label)
    if merge:
        lab = merge_labels(lab, merge)
    if min_pixels < 0:
        raise MedSegError(f"min_pixels: must be >= 0, got {min_pixels}")
    keep = np.flatnonzero(foreground_per_slice(lab) > min_pixels)
    return np.moveaxis(np.take(data, keep, axis=-3), -3, 0), lab[keep], keep


def sample_slices(
    image: np.ndarray,
    label: np.ndarray | None,
    n_slices: int = 16,
    rng: np.random.Generator | None = None,
    training: bool = True,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Reduce a volume to ``n_slices`` randomly chosen z slices, in anatomical order (C3).

    Returns ``(image (C, n, y, x) or (n, y, x), label (n, y, x) or None, slice indices)``: still
    a volume, for 3D networks on the reduced stack.

    In training only slices with foreground are candidates (background slices are excluded,
    as in the paper); a label without any foreground falls back to all slices. With fewer
    candidates than ``n_slices`` every candidate is used and the rest drawn again with
    replacement, so the output always has ``n_slices`` slices. Resampling every epoch is the
    paper's augmentation: call again with the same generator.
    """
    if rng is None:
        raise MedSegError("sample_slices: pass a numpy.random.Generator (reproducible sampling)")
    if n_slices < 1:
        raise MedSegError(f"n_slices: must be >= 1, got {n_slices}")
    data = np.asarray(image)
    depth = data.shape[-3]
    candidates = np.arange(depth)
    if label is not None:
        _check_pair(data, label)
        if training:
            with_fg = np.flatnonzero(foreground_per_slice(label) > 0)
            if with_fg.size:
                candidates = with_fg
    chosen = choose_slices(candidates, n_slices, rng)
    lab = None if label is None else np.asarray(label)[chosen]
    return np.take(data, chosen, axis=-3), lab, chosen


def choose_slices(candidates: np.ndarray, n_slices: int, rng: np.random.Generator) -> np.ndarray:
    """``n_slices`` of ``candidates`` drawn without replacement (all of them, the rest drawn again
    with replacement, when there are fewer), sorted so the stack keeps anatomical order (C3)."""
    if candidates.size >= n_slices:
        chosen = rng.choice(candidates, size=n_slices, replace=False)
    else:
        extra = rng.choice(candidates, size=n_slices - candidates.size, replace=True)
        chosen = np.concatenate([candidates, extra])
    return np.sort(chosen)


def downsample_inplane(
    array: np.ndarray, size: Sequence[int] = (128, 128), is_label: bool = False
) -> np.ndarray:
    """Resize the last two axes (y, x) to ``size`` (C3: 512 → 128).

    Integer factors use block averaging for images (anti-aliased) and the block's centre-most
    voxel for labels; other factors use pixel-edge-aligned linear (images) or nearest (labels)
    interpolation via scipy. Leading axes are untouched.
    """
    data = np.asarray(array)
    want = tuple(int(v) for v in size)
    if len(want) != 2 or min(want) < 1:
        raise MedSegError(f"in-plane size: expected two positive integers (y, x), got {size!r}")
    have = data.shape[-2:]
    if have == want:
        return data.copy()
    if all(h % w == 0 and h >= w for h, w in zip(have, want, strict=True)):
        fy, fx = have[0] // want[0], have[1] // want[1]
        blocks = data.reshape(*data.shape[:-2], want[0], fy, want[1], fx)
        if is_label:
            return np.ascontiguousarray(blocks[..., fy // 2, :, fx // 2])
        return blocks.mean(axis=(-3, -1), dtype=np.float64).astype(_float_dtype(data))
    from scipy import ndimage

    zoom = (1.0,) * (data.ndim - 2) + (want[0] / have[0], want[1] / have[1])
    order = 0 if is_label else 1
    source = data if is_label else data.astype(_float_dtype(data))
    return ndimage.zoom(source, zoom, order=order, mode="nearest", grid_mode=True)


def _float_dtype(data: np.ndarray) -> np.dtype:
    return data.dtype if data.dtype.kind == "f" else np.dtype(np.float32)


def _check_pair(image: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    data, lab = np.asarray(image), np.asarray(label)
    if lab.ndim != 3:
        raise MedSegError(f"label: expected a (z, y, x) array, got shape {lab.shape}")
    if data.ndim not in (3, 4) or data.shape[-3:] != lab.shape:
        raise MedSegError(f"image shape {data.shape} does not match label shape {lab.shape}")
    return data, lab
