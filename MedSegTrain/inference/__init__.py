"""Inference: sliding window / whole volume / 2D slices (L3, B8), test-time
augmentation (B8), ensembles of members and bundles (B8), label merging (B9), stacking (C8),
uncertainty and largest-component post-processing.

The core (:func:`run_ensemble`) takes plain ``torch.nn.Module`` members; :func:`predict_volume`
adds bundles, preprocessing replay and label decoding on top. See ``docs/inference.md``.
"""

from MedSegTrain.bundle.output import OutputSpec, rebuild_labels
from MedSegTrain.inference.merge import BRATS_MERGE_TABLE, MergeTable, merge_label_maps
from MedSegTrain.inference.postprocess import keep_largest_component
from MedSegTrain.inference.predictor import Prediction, predict_volume
from MedSegTrain.inference.runner import EnsembleOutput, run_ensemble
from MedSegTrain.inference.sliding_window import WindowPlan, plan_windows
from MedSegTrain.inference.stacking import LinearStacker, fit_stacker, select_top_members
from MedSegTrain.inference.tta import TTAVariant, tta_variants
from MedSegTrain.inference.uncertainty import entropy_map, variance_map

__all__ = [
    "BRATS_MERGE_TABLE",
    "EnsembleOutput",
    "LinearStacker",
    "MergeTable",
    "OutputSpec",
    "Prediction",
    "TTAVariant",
    "WindowPlan",
    "entropy_map",
    "fit_stacker",
    "keep_largest_component",
    "merge_label_maps",
    "plan_windows",
    "predict_volume",
    "rebuild_labels",
    "run_ensemble",
    "select_top_members",
    "tta_variants",
    "variance_map",
]
