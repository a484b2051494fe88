"""Score the folds' ensemble on held-out test cases, on each case's original grid.

The same path ``predict`` takes: preprocess with the bundle's spec, sliding-window softmax of
every fold model, average, map back onto the input grid (``spec.restore``), argmax, label values;
then Dice and IoU per label against the untouched reference label file (FORMULAS.md: both empty -> 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from MedSegTrain.training.validation import predict_logits


def ensemble_probabilities(
    models: Sequence[torch.nn.Module],
    image: np.ndarray,
    patch: Sequence[int],
    mode: str,
    device: torch.device,
    overlap: float = 0.5,
) -> np.ndarray:
    """Mean softmax ``(K, z, y, x)`` of ``models`` on a preprocessed image."""
    total = None
    for model in models:
        model.eval()
        prob = torch.softmax(predict_logits(model, image, patch, mode, device, overlap), dim=0)
        total = prob if total is None else total + prob
    return (total / len(models)).numpy()


def evaluate_ensemble(
    models: Sequence[torch.nn.Module],
    spec: Any,
    cases: Sequence[Any],
    label_values: Sequence[int],
    label_names: Mapping[int, str],
    patch: Sequence[int],
    mode: str,
    device: torch.device,
    overlap: float = 0.5,
    progress: Any = None,
) -> dict[str, Any]:
    """Mean over cases of Dice and IoU per foreground label, and their means (``dice``, ``iou``)."""
    from MedSegTrain.data import load_case

    values = sorted(int(v) for v in label_values)
    foreground = [v for v in values if v != 0]
    scores: dict[str, list[float]] = {label_names[v]: [] for v in foreground}
    ious: dict[str, list[float]] = {label_names[v]: [] for v in foreground}
    per_case = {}
    if progress is not None:
        progress.task("test", len(cases))
    for case in cases:
        loaded = load_case(case)
        prepared = spec.prepare_image(loaded.channels)
        prob = ensemble_probabilities(models, prepared.array, patch, mode, device, overlap)
        fill = [1.0] + [0.0] * (prob.shape[0] - 1)
        restored = spec.restore(prob, prepared, fill=fill)
        pred = np.asarray(values)[restored.argmax(0)]
        ref = np.asarray(loaded.label)
        case_scores = {}
        for v in foreground:
            p, r = pred == v, ref == v
            tp, denom = int((p & r).sum()), int(p.sum()) + int(r.sum())
            dice = 1.0 if denom == 0 else 2.0 * tp / denom
            scores[label_names[v]].append(dice)
            ious[label_names[v]].append(1.0 if denom == 0 else tp / (denom - tp))
            case_scores[label_names[v]] = dice
        per_case[case.case_id] = case_scores
        if progress is not None:
            progress.advance(1)
    if progress is not None:
        progress.close()
    per_label = {k: float(np.mean(v)) for k, v in scores.items()}
    iou_label = {k: float(np.mean(v)) for k, v in ious.items()}
    return {
        "dice": float(np.mean(list(per_label.values()))),
        "dice_per_label": per_label,
        "iou": float(np.mean(list(iou_label.values()))),
        "iou_per_label": iou_label,
        "n_cases": len(cases),
        "per_case": per_case,
    }
