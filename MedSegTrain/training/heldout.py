"""Score the folds' ensemble on held-out test cases, on each case's original grid.

The same path ``predict`` takes: preprocess with the bundle's spec, Gaussian-blended sliding
windows of every fold model through the inference runner (one window plan for all of them),
averaged probabilities mapped back onto the input grid (``spec.restore``), decoded to label values
(argmax, or regions at 0.5 rebuilt into labels, B8); then Dice and IoU per output channel — per
label for softmax models, per region (e.g. WT/TC/ET) for sigmoid ones — against the untouched
reference label file (FORMULAS.md: both empty -> 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from MedSegTrain.data import load_case
from MedSegTrain.metrics.evaluate import overlap_scores, summarize
from MedSegTrain.preprocessing.slices import merge_labels
from MedSegTrain.training.targets import OutputPlan
from MedSegTrain.training.validation import predict_probabilities


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
    output: OutputPlan | None = None,
    merge: Mapping[int, int] | None = None,
) -> dict[str, Any]:
    """Mean over cases of Dice and IoU per scored channel, and their means (``dice``, ``iou``).

    ``spec`` is one preprocessing for every model, or a list with one per model; ``merge`` renames
    merged sub-labels of the reference files as training did (T1).

    ``output`` declares the models' channels (default: softmax over ``label_names``). Dice, IoU
    and their means over cases come from :mod:`MedSegTrain.metrics.evaluate`.
    """
    output = output or OutputPlan.softmax({name: int(v) for v, name in label_names.items()})
    values = np.asarray(sorted(int(v) for v in label_values))
    names = [output.channel_names[c] for c in output.scored_channels]
    records: list[dict[str, Any]] = []
    per_case = {}
    if progress is not None:
        progress.task("test", len(cases))
    groups = _by_spec(models, spec)
    for case in cases:
        loaded = load_case(case)
        restored = 0.0
        for group_spec, members in groups:  # folds with their own statistics (T6, C2) prepare apart
            prepared = group_spec.prepare_image(loaded.channels)
            prob = predict_probabilities(
                members, prepared.array, patch, mode, device, output.activation, overlap
            )
            back = group_spec.restore(prob.numpy(), prepared, fill=output.spec.background_fill)
            restored = restored + back * (len(members) / len(models))
        pred = output.spec.decode(restored)
        ref = np.asarray(loaded.label)
        if merge:
            ref = merge_labels(ref.astype(np.int64), merge)
        pred_masks = output.reference_masks(torch.from_numpy(np.searchsorted(values, pred)))
        ref_masks = output.reference_masks(torch.from_numpy(np.searchsorted(values, ref)))
        case_scores = {}
        for name, p, r in zip(names, pred_masks, ref_masks, strict=True):
            scores = overlap_scores(p, r)
            records.append({"case": case.case_id, "target": name, **scores})
            case_scores[name] = scores["dice"]
        per_case[case.case_id] = case_scores
        if progress is not None:
            progress.advance(1)
    if progress is not None:
        progress.close()
    summary = summarize(records, ("dice", "iou"))
    per_label = {k: summary[k]["dice"].mean if k in summary else math.nan for k in names}
    iou_label = {k: summary[k]["iou"].mean if k in summary else math.nan for k in names}
    return {
        "dice": float(np.mean(list(per_label.values()))),
        "dice_per_label": per_label,
        "iou": float(np.mean(list(iou_label.values()))),
        "iou_per_label": iou_label,
        "n_cases": len(cases),
        "per_case": per_case,
    }


def _by_spec(models: Sequence[torch.nn.Module], spec: Any) -> list[tuple[Any, list[torch.nn.Module]]]:
    """``(spec, its models)`` pairs; one pair when every model shares one spec."""
    specs = list(spec) if isinstance(spec, (list, tuple)) else [spec] * len(models)
    groups: list[tuple[Any, list[torch.nn.Module]]] = []
    for model, one in zip(models, specs, strict=True):
        for known, members in groups:
            if known == one:
                members.append(model)
                break
        else:
            groups.append((one, [model]))
    return groups
