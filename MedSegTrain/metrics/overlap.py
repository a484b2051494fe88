"""Overlap metrics from the confusion counts of two binary masks (FORMULAS.md, X10, B10).

dice = 2TP/(2TP+FP+FN), iou = TP/(TP+FP+FN), precision = TP/(TP+FP),
recall = TP/(TP+FN), specificity = TN/(TN+FP), arvd = |#P - #R| / #R.
Both masks empty gives dice = iou = 1; a ratio whose denominator is 0 otherwise is NaN.

:func:`dice` and :func:`iou` are the project's one Dice and IoU of two hard masks: the evaluation
module, training validation and the held-out scores count voxels (numpy or torch masks alike,
:func:`mask_counts`) and call them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Confusion:
    """Voxel counts of a prediction against a reference."""

    tp: int
    fp: int
    fn: int
    tn: int

    @classmethod
    def from_masks(cls, pred: np.ndarray, ref: np.ndarray, total: int | None = None) -> Confusion:
        """Counts from boolean masks; ``total`` is the full voxel count when the masks are a crop."""
        tp = int(np.count_nonzero(pred & ref))
        n_pred = int(np.count_nonzero(pred))
        n_ref = int(np.count_nonzero(ref))
        total = pred.size if total is None else total
        return cls(tp=tp, fp=n_pred - tp, fn=n_ref - tp, tn=total - n_pred - n_ref + tp)


def mask_counts(pred: Any, ref: Any) -> Confusion:
    """The counts of two boolean masks of one shape, numpy arrays or torch tensors (on any device)."""
    tp = int((pred & ref).sum())
    n_pred, n_ref = int(pred.sum()), int(ref.sum())
    total = math.prod(int(n) for n in pred.shape)
    return Confusion(tp=tp, fp=n_pred - tp, fn=n_ref - tp, tn=total - n_pred - n_ref + tp)


def dice(counts: Confusion) -> float:
    """2TP / (2TP + FP + FN); 1 when both masks are empty (FORMULAS.md)."""
    both_empty = counts.tp + counts.fp + counts.fn == 0
    return 1.0 if both_empty else 2 * counts.tp / (2 * counts.tp + counts.fp + counts.fn)


def iou(counts: Confusion) -> float:
    """TP / (TP + FP + FN); 1 when both masks are empty (FORMULAS.md)."""
    both_empty = counts.tp + counts.fp + counts.fn == 0
    return 1.0 if both_empty else counts.tp / (counts.tp + counts.fp + counts.fn)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def overlap_metrics(counts: Confusion) -> dict[str, float]:
    """dice, iou, precision, recall, specificity and arvd from ``counts``."""
    tp, fp, fn, tn = counts.tp, counts.fp, counts.fn, counts.tn
    return {
        "dice": dice(counts),
        "iou": iou(counts),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "arvd": _ratio(abs((tp + fp) - (tp + fn)), tp + fn),
    }
