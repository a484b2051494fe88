"""Surface distances between two binary masks, one pass per pair (FORMULAS.md, X10, B10).

Surface of a mask: its voxels with at least one background voxel among the face neighbours
(6 in 3D, 4 in 2D), outside the array counting as background, i.e.
``mask ^ binary_erosion(mask, cross, border_value=0)``. ``D_PR`` holds, for every surface voxel
of the prediction, the Euclidean distance in mm to the nearest reference surface voxel;
``D_RP`` likewise. hd = max of both maxima, hd95 = max of both linear 95th percentiles,
msd = (sum D_PR + sum D_RP) / (|D_PR| + |D_RP|): MONAI's ``compute_hausdorff_distance``
(percentile 95 / None) and ``compute_average_surface_distance(symmetric=True)``. The normalised
surface distance at tolerance tau (mm), nsd = (|D_PR <= tau| + |D_RP <= tau|) / (|D_PR| + |D_RP|),
is the fraction of both surfaces within tau of the other one: MONAI's ``compute_surface_dice``.

How it is fast (measured in docs/metrics.md): everything runs on the bounding box of the union
of the masks (padded by one background voxel), the erosion is six shifted boolean ANDs, voxels on
both surfaces are known to be at distance 0 without a search, and only the remaining surface
voxels query a KD-tree of the other surface (faster than a cropped distance transform by ~10x
on organ-sized masks, because surfaces are sparse).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from MedSegTrain.metrics.masks import check_pair, check_spacing


def union_bounding_box(a: np.ndarray, b: np.ndarray) -> tuple[slice, ...] | None:
    """Slices of the smallest box holding every foreground voxel of ``a`` or ``b``; None if both empty."""
    boxes = [box for box in (_bounding_box(a), _bounding_box(b)) if box is not None]
    if not boxes:
        return None
    return tuple(
        slice(min(box[axis].start for box in boxes), max(box[axis].stop for box in boxes))
        for axis in range(a.ndim)
    )


def _bounding_box(mask: np.ndarray) -> tuple[slice, ...] | None:
    """Bounding box of one mask: one pass over the first axis, then over the occupied slab only."""
    first = np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))
    if first.size == 0:
        return None
    slab = mask[first[0] : first[-1] + 1]
    box = [slice(int(first[0]), int(first[-1]) + 1)]
    for axis in range(1, mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        occupied = np.flatnonzero(slab.any(axis=others))
        box.append(slice(int(occupied[0]), int(occupied[-1]) + 1))
    return tuple(box)


def mask_surface(mask: np.ndarray, connectivity: str = "face") -> np.ndarray:
    """Boolean surface of ``mask``; outside the array is background.

    ``connectivity="face"``: voxels with a background face neighbour (6 in 3D, 4 in 2D; the
    FORMULAS.md surface). ``"full"``: any background neighbour among all 8 (2D) / 26 (3D), the
    mixup paper's 8-neighbour in-slice surface; computed as a separable box erosion.
    """
    if connectivity not in ("face", "full"):
        raise ValueError(f"connectivity must be 'face' or 'full', got {connectivity!r}")
    interior = mask.copy()
    padded = np.pad(mask, 1)
    for axis in range(mask.ndim):
        if connectivity == "full" and axis > 0:
            padded = np.pad(interior, 1)  # separable: erode the previous axes' result
        for shift in (slice(None, -2), slice(2, None)):
            neighbour = tuple(shift if a == axis else slice(1, -1) for a in range(mask.ndim))
            interior &= padded[neighbour]
    return mask & ~interior


@dataclass(frozen=True)
class SurfaceDistances:
    """The two directed surface-distance sets of a pair, in mm (order of voxels not kept)."""

    pred_to_ref: np.ndarray
    ref_to_pred: np.ndarray

    def hd(self) -> float:
        """Hausdorff distance: the largest distance in either direction."""
        return self._both_directions(lambda d: float(d.max()))

    def hd_percentile(self, percentile: float = 95.0) -> float:
        """Max over both directions of the linear-interpolated percentile (hd95 for 95)."""
        return self._both_directions(lambda d: float(np.percentile(d, percentile)))

    def msd(self) -> float:
        """Mean (average symmetric) surface distance, the mixup paper's eq. 2."""
        n_total = self.pred_to_ref.size + self.ref_to_pred.size
        if n_total == 0:
            return 0.0
        if self._one_empty():
            return math.inf
        return float((self.pred_to_ref.sum() + self.ref_to_pred.sum()) / n_total)

    def nsd(self, tolerance: float) -> float:
        """Normalised surface distance: the fraction of surface voxels of both masks within
        ``tolerance`` mm of the other surface. Both masks empty gives 1, exactly one empty 0."""
        n_total = self.pred_to_ref.size + self.ref_to_pred.size
        if n_total == 0:
            return 1.0
        within = sum(np.count_nonzero(d <= tolerance) for d in (self.pred_to_ref, self.ref_to_pred))
        return float(within / n_total)

    def _one_empty(self) -> bool:
        return (self.pred_to_ref.size == 0) != (self.ref_to_pred.size == 0)

    def _both_directions(self, statistic) -> float:
        if self.pred_to_ref.size == 0 and self.ref_to_pred.size == 0:
            return 0.0
        if self._one_empty():
            return math.inf
        return max(statistic(self.pred_to_ref), statistic(self.ref_to_pred))


def surface_distances(
    pred: np.ndarray, ref: np.ndarray, spacing: float | Sequence[float] | None = None
) -> SurfaceDistances:
    """Both directed surface-distance sets of two binary masks; ``spacing`` in array order (z, y, x).

    A mask that is empty while the other is not gives an empty set for its direction and
    ``inf`` for every distance of the other direction.
    """
    pred_mask, ref_mask = check_pair(pred, ref)
    spacing_vec = check_spacing(spacing, pred_mask.ndim)
    box = union_bounding_box(pred_mask, ref_mask)
    if box is None:
        empty = np.zeros(0)
        return SurfaceDistances(empty, empty)
    return distances_in_box(pred_mask[box], ref_mask[box], spacing_vec)


def distances_in_box(pred: np.ndarray, ref: np.ndarray, spacing: np.ndarray) -> SurfaceDistances:
    """Surface distances of boolean masks already cropped to their union bounding box."""
    pred_surface = mask_surface(pred)
    ref_surface = mask_surface(ref)
    return SurfaceDistances(
        directed_distances(pred_surface, ref_surface, spacing),
        directed_distances(ref_surface, pred_surface, spacing),
    )


def directed_distances(source: np.ndarray, target: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Distance from every ``source`` surface voxel to the nearest ``target`` surface voxel (mm)."""
    n_source = int(np.count_nonzero(source))
    if not target.any():
        return np.full(n_source, math.inf)
    away = source & ~target
    n_shared = n_source - int(np.count_nonzero(away))
    distances = np.zeros(n_source)
    if n_shared < n_source:
        # An unbalanced tree without compacted nodes builds twice as fast and answers one
        # batched query faster than the default (measured, docs/metrics.md).
        points = physical_points(target, spacing)
        tree = cKDTree(points, leafsize=16, balanced_tree=False, compact_nodes=False)
        distances[n_shared:] = tree.query(physical_points(away, spacing), k=1)[0]
    return distances


def physical_points(mask: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """``(n, ndim)`` coordinates in mm of the voxels of ``mask`` (raster order).

    ``flatnonzero`` + ``unravel_index`` is ~20x faster than ``np.argwhere`` on a sparse mask.
    """
    return np.stack(np.unravel_index(np.flatnonzero(mask), mask.shape), axis=1) * spacing
