"""Random patch sampling with a configurable foreground ratio (L3 patch training, B5 random crops).

Of ``n`` patches, ``round(n * foreground_ratio)`` are centred on a foreground voxel (a class is
drawn uniformly among the non-zero classes present, then a voxel of it, so small classes are
seen as often as large ones); the others are placed uniformly at random. ``foreground_ratio=0``
gives plain random fixed-size crops (B5: 128³). Volumes smaller than the patch are zero-padded
first. Arrays: image ``(C, z, y, x)``, label ``(z, y, x)``; patch sizes ``(z, y, x)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from MedSegTrain.errors import MedSegError
from MedSegTrain.preprocessing.cropping import Box, pad_to_shape


@dataclass(frozen=True)
class Patches:
    """``images (n, C, *patch)``, ``labels (n, *patch)`` or None, their boxes in the (padded) volume,
    which patches were foreground-centred, and the pad applied to the volume first."""

    images: np.ndarray
    labels: np.ndarray | None
    boxes: tuple[Box, ...]
    foreground: np.ndarray
    pad: tuple[tuple[int, int], ...]


def sample_patches(
    image: np.ndarray,
    label: np.ndarray | None,
    patch_size: Sequence[int],
    n: int,
    rng: np.random.Generator,
    foreground_ratio: float = 0.33,
) -> Patches:
    """Draw ``n`` patches of ``patch_size``; see the module docstring for the sampling rule.

    Without a label, or with a label without foreground, every patch is placed at random.
    """
    data = np.asarray(image)
    if data.ndim != 4:
        raise MedSegError(f"image: expected (C, z, y, x), got shape {data.shape}")
    patch = tuple(int(p) for p in patch_size)
    if len(patch) != 3 or min(patch) < 1:
        raise MedSegError(f"patch size: expected three positive integers (z, y, x), got {patch_size!r}")
    if not 0.0 <= foreground_ratio <= 1.0:
        raise MedSegError(f"foreground ratio: must be within 0..1, got {foreground_ratio}")
    if n < 1:
        raise MedSegError(f"number of patches: must be >= 1, got {n}")
    lab = None if label is None else np.asarray(label)
    if lab is not None and lab.shape != data.shape[1:]:
        raise MedSegError(f"label shape {lab.shape} does not match image shape {data.shape[1:]}")

    target = tuple(max(s, p) for s, p in zip(data.shape[1:], patch, strict=True))
    data, pad = pad_to_shape(data, target)
    if lab is not None:
        lab = pad_to_shape(lab, target)[0]

    n_fg = round(n * foreground_ratio)
    by_class = _foreground_by_class(lab) if lab is not None and n_fg else {}
    if not by_class:
        n_fg = 0
    is_fg = np.zeros(n, bool)
    is_fg[:n_fg] = True
    rng.shuffle(is_fg)

    boxes = []
    classes = sorted(by_class)
    for fg in is_fg:
        if fg:
            voxels = by_class[classes[rng.integers(len(classes))]]
            flat = voxels[rng.integers(voxels.size)]
            centre = np.unravel_index(flat, target)
            starts = [
                min(max(int(c) - p // 2, 0), s - p) for c, p, s in zip(centre, patch, target, strict=True)
            ]
        else:
            starts = [int(rng.integers(s - p + 1)) for p, s in zip(patch, target, strict=True)]
        boxes.append(tuple((a, a + p) for a, p in zip(starts, patch, strict=True)))

    images = np.stack([data[(slice(None), *(slice(a, b) for a, b in box))] for box in boxes])
    labels = None if lab is None else np.stack([lab[tuple(slice(a, b) for a, b in box)] for box in boxes])
    return Patches(images, labels, tuple(boxes), is_fg, pad)


def _foreground_by_class(label: np.ndarray) -> dict[int, np.ndarray]:
    flat = label.reshape(-1)
    idx = np.flatnonzero(flat)
    if idx.size == 0:
        return {}
    values = flat[idx]
    order = np.argsort(values, kind="stable")
    values, idx = values[order], idx[order]
    uniq, starts = np.unique(values, return_index=True)
    bounds = [*starts[1:], values.size]
    return {int(v): idx[s:e] for v, s, e in zip(uniq, starts, bounds, strict=True)}
