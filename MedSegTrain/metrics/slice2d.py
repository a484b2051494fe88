"""The mixup paper's in-slice mean surface distance ``msd_2d`` (eq. 2; X10).

Each slice along the first array axis (z) is compared in-plane: surfaces with the 8-neighbour
structuring element, distances in pixels (or in mm when an in-plane spacing is given), and the
distances of all slices' surface points pooled into one mean:
``(sum D_PR + sum D_RP) / (|D_PR| + |D_RP|)`` over every slice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from MedSegTrain.errors import MedSegError
from MedSegTrain.metrics.masks import check_pair, check_spacing
from MedSegTrain.metrics.surface import directed_distances, mask_surface, union_bounding_box

EMPTY_SLICE_RULES = ("inf", "skip")


def msd_2d(
    pred: np.ndarray,
    ref: np.ndarray,
    spacing: Sequence[float] | None = None,
    empty_slices: str = "inf",
) -> float:
    """In-slice mean surface distance of binary masks ``(z, y, x)`` (or one ``(y, x)`` slice).

    ``spacing`` is the in-plane ``(y, x)`` spacing; None measures in pixels as the paper does.
    A slice where exactly one mask has foreground has no in-slice partner surface:
    ``empty_slices="inf"`` (default, as FORMULAS.md's empty-mask rule) makes the result inf,
    ``"skip"`` leaves such slices out. Both masks empty everywhere gives 0.
    """
    if empty_slices not in EMPTY_SLICE_RULES:
        raise MedSegError(f"empty_slices must be one of {EMPTY_SLICE_RULES}, got {empty_slices!r}")
    pred_mask, ref_mask = check_pair(pred, ref)
    if pred_mask.ndim == 2:
        pred_mask, ref_mask = pred_mask[None], ref_mask[None]
    in_plane = check_spacing(spacing, 2)
    box = union_bounding_box(pred_mask, ref_mask)
    if box is None:
        return 0.0
    pred_mask, ref_mask = pred_mask[box], ref_mask[box]
    pred_any = pred_mask.reshape(pred_mask.shape[0], -1).any(axis=1)
    ref_any = ref_mask.reshape(ref_mask.shape[0], -1).any(axis=1)
    total, count = 0.0, 0
    for index in np.flatnonzero(pred_any | ref_any):
        if pred_any[index] != ref_any[index]:
            if empty_slices == "inf":
                return math.inf
            continue
        pred_surface = mask_surface(pred_mask[index], connectivity="full")
        ref_surface = mask_surface(ref_mask[index], connectivity="full")
        for distances in (
            directed_distances(pred_surface, ref_surface, in_plane),
            directed_distances(ref_surface, pred_surface, in_plane),
        ):
            total += float(distances.sum())
            count += distances.size
    return total / count if count else math.inf
