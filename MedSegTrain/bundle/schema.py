"""The ``model.json`` schema: field names, allowed values and the rules every bundle must meet.

:func:`validate_meta` lists every problem of a document as a sentence (so a user sees them all at
once); :func:`MedSegTrain.bundle.meta.parse_meta` calls it before it builds the typed
:class:`~MedSegTrain.bundle.meta.BundleMeta`. The field list is in ``docs/data.md``.

Imports only the standard library and MedSegTrain's light modules: the Slicer module validates
bundles before torch is installed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from MedSegTrain import limits
from MedSegTrain.bundle.modes import INFERENCE_MODES, is_mode

FORMAT_VERSION = 1
MODEL_JSON = "model.json"
WEIGHTS_SUFFIX = ".safetensors"
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".tar", ".bin", ".npy", ".joblib")
ACTIVATIONS = ("softmax", "sigmoid")


def validate_meta(meta: Any, where: str = MODEL_JSON) -> list[str]:
    """Every problem of a ``model.json`` mapping as a sentence; empty when it is valid."""
    if not isinstance(meta, Mapping):
        return [f"{where}: must be a JSON object"]
    problems: list[str] = []
    version = meta.get("format_version")
    if version is None:
        return [f"{where}: 'format_version' is missing"]
    if not _is_int(version):
        return [f"{where}: 'format_version' must be an integer, got {version!r}"]
    if version != FORMAT_VERSION:
        return [f"{where}: unknown format_version {version} (this medsegtrain reads version "
                f"{FORMAT_VERSION}; a newer bundle needs a newer medsegtrain)"]
    check = _Checker(meta, where, problems)
    check.field("name", str)
    check.field("created", str)
    if check.field("network", dict):
        check.field("network.name", str)
        check.field("network.args", dict)
    if check.field("input", dict):
        if check.field("input.channels", list):
            channels = meta["input"]["channels"]
            if not channels or not all(isinstance(c, str) for c in channels):
                problems.append(f"{where}: 'input.channels' must be a non-empty list of channel names")
        check.field("input.modality", str)
    if check.field("labels", dict):
        labels = meta["labels"]
        if not all(_is_int(v) and v >= 0 for v in labels.values()):
            problems.append(f"{where}: 'labels' must map names to non-negative integers")
        elif len(set(labels.values())) != len(labels):
            problems.append(f"{where}: 'labels' gives two names the same value")
        elif 0 not in labels.values():
            problems.append(f"{where}: 'labels' must include background 0")
    if check.field("output", dict):
        if check.field("output.activation", str) and meta["output"]["activation"] not in ACTIVATIONS:
            problems.append(f"{where}: 'output.activation' must be one of {', '.join(ACTIVATIONS)}, "
                            f"got {meta['output']['activation']!r}")
        regions = meta["output"].get("regions")
        if regions is not None and not (isinstance(regions, dict) and all(
                isinstance(v, list) and v and all(_is_int(x) for x in v) for v in regions.values())):
            problems.append(f"{where}: 'output.regions' must be null or map names to lists of label values")
        rebuild = meta["output"].get("region_rebuild")
        if rebuild is not None and not isinstance(rebuild, list):
            problems.append(f"{where}: 'output.region_rebuild' must be null or a list")
    check.field("preprocessing", dict)
    if check.field("inference", dict):
        inference = meta["inference"]
        if check.field("inference.mode", str) and not is_mode(inference["mode"]):
            problems.append(f"{where}: 'inference.mode' must be one of {', '.join(INFERENCE_MODES)}, "
                            f"got {inference['mode']!r}")
        if check.field("inference.patch_size", list):
            patch = inference["patch_size"]
            if len(patch) not in (2, 3) or not all(_is_int(p) and p > 0 for p in patch):
                problems.append(f"{where}: 'inference.patch_size' must be 2 or 3 positive integers "
                                f"in (z, y, x) order, got {patch!r}")
            elif math.prod(patch) > limits.value("voxels"):
                problems.append(f"{where}: 'inference.patch_size' {patch} is {math.prod(patch):.3g} voxels, "
                                f"above the limit of {limits.value('voxels'):,} "
                                "(raise it with --limit voxels=N)")
        overlap = inference.get("overlap")
        if not isinstance(overlap, (int, float)) or isinstance(overlap, bool) or not 0 <= overlap < 1:
            problems.append(f"{where}: 'inference.overlap' must be a number in [0, 1), got {overlap!r}")
    if check.field("training", dict):
        check.field("training.recipe", dict)
        check.field("training.validation_metrics", dict)
    if check.field("members", list):
        members = meta["members"]
        if not members:
            problems.append(f"{where}: 'members' must list at least one weights file")
        for i, member in enumerate(members):
            problems.extend(_member_problems(member, i, where))
        names = [m.get("weights") for m in members if isinstance(m, dict)]
        if len(set(map(str, names))) != len(names):
            problems.append(f"{where}: two members share a weights file")
    return problems


def _member_problems(member: Any, index: int, where: str) -> list[str]:
    label = f"{where}: 'members[{index}]"
    if not isinstance(member, dict):
        return [f"{label}' must be an object"]
    weights = member.get("weights")
    if not isinstance(weights, str) or not weights:
        return [f"{label}.weights' is missing or not a file name"]
    problems = []
    lower = weights.lower()
    if lower.endswith(PICKLE_SUFFIXES):
        problems.append(f"{label}.weights' is {weights}: pickle-based weights can execute code when "
                        "loaded and are refused; convert them to safetensors "
                        "(safetensors.torch.save_file(model.state_dict(), 'fold0.safetensors'))")
    elif not lower.endswith(WEIGHTS_SUFFIX):
        problems.append(f"{label}.weights' must be a {WEIGHTS_SUFFIX} file, got {weights}")
    if not _is_plain_name(weights):
        problems.append(f"{label}.weights' must be a plain file name inside the bundle, got {weights}")
    fold = member.get("fold")
    if fold is not None and not _is_int(fold):
        problems.append(f"{label}.fold' must be an integer or null, got {fold!r}")
    metrics = member.get("validation_metrics")
    if metrics is not None and not isinstance(metrics, dict):
        problems.append(f"{label}.validation_metrics' must be an object")
    return problems


class _Checker:
    """Checks dotted fields exist with a type, recording a sentence per problem."""

    def __init__(self, meta: Mapping[str, Any], where: str, problems: list[str]) -> None:
        self.meta, self.where, self.problems = meta, where, problems

    def field(self, dotted: str, kind: type) -> bool:
        value: Any = self.meta
        for part in dotted.split("."):
            if not isinstance(value, Mapping) or part not in value:
                self.problems.append(f"{self.where}: '{dotted}' is missing")
                return False
            value = value[part]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problems.append(f"{self.where}: '{dotted}' must be {_type_name(kind)}, "
                                 f"got {type(value).__name__}")
            return False
        return True


def _type_name(kind: type) -> str:
    return {str: "a string", dict: "an object", list: "a list", int: "an integer"}.get(kind, kind.__name__)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_plain_name(name: str) -> bool:
    return "/" not in name and "\\" not in name and name not in (".", "..") and not name.startswith(".")
