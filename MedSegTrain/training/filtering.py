"""Dataset filtering (Henry et al., B9): flag training cases whose final training loss is an outlier.

After a fold has trained, every training case is predicted whole and scored with the training
loss. A case is flagged when its robust z-score ``(loss - median) / (1.4826 * MAD)`` exceeds
``filtering.z_threshold`` (3 by default) — the cases the network could not fit, often label
errors. With ``filtering.retrain`` the fold is trained again without them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from MedSegTrain.training.loader import CachedCase
from MedSegTrain.training.targets import OutputPlan
from MedSegTrain.training.validation import logits_from_probabilities, predict_probabilities

MAD_TO_SD = 1.4826  # MAD of a normal distribution x 1.4826 = its standard deviation


def robust_z(values: Mapping[str, float]) -> dict[str, float]:
    """Robust z-score of each value (0 for all when the spread is 0)."""
    data = np.asarray(list(values.values()), dtype=np.float64)
    median = float(np.median(data))
    spread = MAD_TO_SD * float(np.median(np.abs(data - median)))
    if spread == 0:
        spread = float(np.std(data))
    if spread == 0:
        return dict.fromkeys(values, 0.0)
    return {k: (float(v) - median) / spread for k, v in values.items()}


def flag_outliers(losses: Mapping[str, float], z_threshold: float = 3.0) -> list[str]:
    """Cases whose loss lies more than ``z_threshold`` robust SDs above the median, worst first."""
    z = robust_z(losses)
    return sorted((k for k, v in z.items() if v > z_threshold), key=lambda k: -z[k])


@torch.no_grad()
def case_losses(
    model: torch.nn.Module,
    cases: Sequence[CachedCase],
    loss_fn: torch.nn.Module,
    output: OutputPlan,
    patch: Sequence[int],
    mode: str,
    device: torch.device,
    overlap: float = 0.5,
) -> dict[str, float]:
    """The loss of each case's whole-volume prediction (as ``predict`` blends it) against its label."""
    model.eval()
    out = {}
    for case in cases:
        prob = predict_probabilities([model], case.image, patch, mode, device, output.activation, overlap)
        ref = torch.from_numpy(np.asarray(case.label, dtype=np.int64))[None, None]
        logits = logits_from_probabilities(prob, output.activation)[None]
        out[case.case_id] = float(loss_fn(logits, output.encode(ref)))
    return out
