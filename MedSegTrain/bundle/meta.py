"""``model.json`` parsed once into the frozen :class:`BundleMeta` that every reader uses, and its builder.

* :func:`parse_meta` is the one parser of a ``model.json`` document: it runs the schema
  (:func:`MedSegTrain.bundle.schema.validate_meta`, every problem named at once), then builds the
  typed sections: :class:`NetworkSpec`, the output contract
  (:class:`MedSegTrain.bundle.output.OutputSpec`), :class:`InferenceSettings`, the preprocessing,
  the training recipe and the validation metrics, one :class:`MemberInfo` per weights file.
  Inference, training, the CLI and the Slicer panels read these objects, never the JSON.
* :func:`build_meta` is what training calls to describe a new bundle; :meth:`BundleMeta.to_dict`
  is the one writer of the ``model.json`` layout, and the builder parses that layout back, so a
  bundle that is written is exactly the one that will be read.

The ``preprocessing`` section is kept as (frozen) JSON: its schema belongs to
:class:`MedSegTrain.preprocessing.pipeline.PreprocessingSpec`, which training and inference share
and which needs SimpleITK; :meth:`BundleMeta.preprocessing_spec` builds it on demand.

Standard library only (plus MedSegTrain's light modules and numpy through ``output``): the Slicer
module reads bundles before torch is installed.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from MedSegTrain.bundle.modes import SLICES2D, SLIDING_WINDOW, InferenceMode, inference_mode, patch_mode
from MedSegTrain.bundle.output import OutputSpec
from MedSegTrain.bundle.schema import FORMAT_VERSION, MODEL_JSON, WEIGHTS_SUFFIX, validate_meta
from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import strict_json_value

DEFAULT_OVERLAP = 0.5


def freeze(value: Any) -> Any:
    """A read-only copy of a JSON value: mappings become ``MappingProxyType``, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A fresh plain-JSON copy (dicts and lists) of a value made by :func:`freeze`."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class NetworkSpec:
    """``network``: the registry name and the constructor arguments."""

    name: str
    args: Mapping[str, Any]

    def kwargs(self) -> dict[str, Any]:
        """A fresh copy of the arguments, for ``get_network(name, **kwargs)``."""
        return thaw(self.args)

    @property
    def spatial_dims(self) -> int:
        return int(self.args.get("spatial_dims", 3))

    @property
    def out_channels(self) -> int | None:
        out = self.args.get("out_channels")
        return None if out is None else int(out)


@dataclass(frozen=True)
class InferenceSettings:
    """``inference`` plus the network's dimensionality: how the model is run over a volume."""

    mode: InferenceMode
    patch_size: tuple[int, ...] | None
    """As stored: ``[z, y, x]``; a 2D model's ``[1, y, x]`` (or ``[y, x]``)."""
    overlap: float
    spatial_dims: int = 3

    @classmethod
    def for_patch(cls, mode: str, patch: Sequence[int], overlap: float) -> InferenceSettings:
        """The settings of a model trained on ``patch.mode`` (``3d``/``2d``) patches of ``patch``."""
        if patch_mode(mode, "patch.mode") == "2d":
            return cls(SLICES2D, (1, *(int(p) for p in patch[-2:])), float(overlap), 2)
        return cls(SLIDING_WINDOW, tuple(int(p) for p in patch), float(overlap), 3)

    @property
    def patch_mode(self) -> str:
        """The training recipe's spelling of the mode: ``2d`` or ``3d``."""
        return patch_mode(self.mode)

    @property
    def window_size(self) -> tuple[int, ...] | None:
        """The window the engine slides: ``(y, x)`` for ``slices2d``, else ``patch_size``."""
        if self.patch_size is None:
            return None
        return tuple(self.patch_size[-2:]) if self.mode == SLICES2D else self.patch_size

    def with_overlap(self, overlap: float | None, source: str = MODEL_JSON) -> InferenceSettings:
        """These settings with ``overlap`` (a user's override) instead of the bundle's; None keeps it."""
        if overlap is None:
            return self
        return dataclasses.replace(self, overlap=_overlap(overlap, source))

    def plan_key(self) -> tuple[Any, ...]:
        """What decides the window grid: bundles with equal keys share one."""
        return (self.mode, self.window_size, self.overlap, self.spatial_dims)

    def to_dict(self) -> dict[str, Any]:
        """The ``inference`` entry of ``model.json``."""
        return {"mode": self.mode, "patch_size": None if self.patch_size is None else list(self.patch_size),
                "overlap": self.overlap}


@dataclass(frozen=True)
class MemberInfo:
    """One ensemble member: its weights file, fold and validation metrics."""

    weights: str
    fold: int | None = None
    validation_metrics: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def for_fold(cls, fold: int, metrics: Mapping[str, Any] | None = None) -> MemberInfo:
        """The member a training fold writes: ``fold<k>.safetensors``."""
        return cls(f"fold{fold}{WEIGHTS_SUFFIX}", int(fold), freeze(dict(metrics or {})))

    def to_dict(self) -> dict[str, Any]:
        return {"weights": self.weights, "fold": self.fold,
                "validation_metrics": thaw(self.validation_metrics)}


@dataclass(frozen=True)
class BundleMeta:
    """A parsed, validated ``model.json``. Build with :func:`parse_meta` or :func:`build_meta`."""

    name: str
    created: str
    network: NetworkSpec
    channels: tuple[str, ...]
    modality: str
    output: OutputSpec
    preprocessing: Mapping[str, Any]
    inference: InferenceSettings
    recipe: Mapping[str, Any]
    validation_metrics: Mapping[str, Any]
    members: tuple[MemberInfo, ...]
    format_version: int = FORMAT_VERSION
    source: str = field(default=MODEL_JSON, compare=False)
    """Where it was read from, for error messages."""

    @property
    def labels(self) -> dict[str, int]:
        """Label name -> value (background 0 included)."""
        return dict(self.output.labels)

    @property
    def activation(self) -> str:
        return self.output.activation

    @property
    def regions(self) -> dict[str, list[int]] | None:
        """Region name -> label values for sigmoid region outputs, else None."""
        regions = self.output.regions
        return None if regions is None else {k: list(v) for k, v in regions.items()}

    @property
    def n_members(self) -> int:
        return len(self.members)

    @property
    def window_name(self) -> str:
        """The window preset the preprocessing replays: its name, ``custom`` or ``none``."""
        window = self.preprocessing.get("window")
        if isinstance(window, str):
            return window
        if isinstance(window, Mapping):
            return str(window.get("name") or "custom")
        return "none"

    def metrics_dict(self) -> dict[str, Any]:
        """A plain copy of the bundle's validation metrics (``training.validation_metrics``)."""
        return thaw(self.validation_metrics)

    def preprocessing_spec(self) -> Any:
        """The :class:`MedSegTrain.preprocessing.pipeline.PreprocessingSpec` to replay."""
        from MedSegTrain.preprocessing.pipeline import PreprocessingSpec  # SimpleITK: only when replayed

        return PreprocessingSpec.from_dict(thaw(self.preprocessing))

    def with_preprocessing(self, preprocessing: Mapping[str, Any]) -> BundleMeta:
        """The same metadata replaying ``preprocessing`` instead."""
        return dataclasses.replace(self, preprocessing=freeze(dict(preprocessing)))

    def to_dict(self) -> dict[str, Any]:
        """The ``model.json`` document (``docs/data.md``), in plain JSON types."""
        return {
            "format_version": self.format_version,
            "name": self.name,
            "created": self.created,
            "network": {"name": self.network.name, "args": self.network.kwargs()},
            "input": {"channels": list(self.channels), "modality": self.modality},
            "labels": self.labels,
            "output": self.output.to_dict(self.source),
            "preprocessing": thaw(self.preprocessing),
            "inference": self.inference.to_dict(),
            "training": {"recipe": thaw(self.recipe), "validation_metrics": thaw(self.validation_metrics)},
            "members": [m.to_dict() for m in self.members],
        }


# ----------------------------------------------------------------------------- parsing

def parse_meta(document: Any, where: str = MODEL_JSON) -> BundleMeta:
    """The :class:`BundleMeta` of a ``model.json`` document; :class:`MedSegError` naming every bad field."""
    problems = validate_meta(document, where)
    if problems:
        raise MedSegError("invalid bundle:\n  " + "\n  ".join(problems))
    network = NetworkSpec(document["network"]["name"], freeze(document["network"]["args"]))
    dims = network.args.get("spatial_dims", 3)
    if not _is_int(dims) or dims not in (2, 3):
        raise MedSegError(f"{where}: 'network.args.spatial_dims' must be 2 or 3, got {dims!r}")
    training = document["training"]
    return BundleMeta(
        name=document["name"],
        created=document["created"],
        network=network,
        channels=tuple(document["input"]["channels"]),
        modality=document["input"]["modality"],
        output=parse_output(document, where),
        preprocessing=freeze(document["preprocessing"]),
        inference=parse_inference(document["inference"], dims, where),
        recipe=freeze(training["recipe"]),
        validation_metrics=freeze(training["validation_metrics"]),
        members=tuple(MemberInfo(m["weights"], m.get("fold"), freeze(m.get("validation_metrics") or {}))
                      for m in document["members"]),
        format_version=document["format_version"],
        source=where,
    )


def parse_output(document: Mapping[str, Any], source: str = MODEL_JSON) -> OutputSpec:
    """The output contract of the ``labels`` and ``output`` sections; errors name ``source``."""
    labels = document.get("labels")
    if not isinstance(labels, Mapping) or not labels:
        raise MedSegError(f"{source}: 'labels' must map label names to integer values")
    clean = {str(k): _label(v, f"{source}: labels.{k}") for k, v in labels.items()}
    output = document.get("output") or {}
    activation = output.get("activation", "softmax")
    regions = output.get("regions")
    if regions is not None:
        if not isinstance(regions, Mapping) or not regions:
            raise MedSegError(f"{source}: output.regions must map region names to lists of label values")
        regions = {str(k): tuple(_label(v, f"{source}: output.regions.{k}") for v in vals)
                   for k, vals in regions.items()}
    rebuild = output.get("region_rebuild")
    if rebuild is not None:
        rebuild = tuple(_rebuild_step(step, f"{source}: output.region_rebuild") for step in rebuild)
    spec = OutputSpec(str(activation), clean, regions, rebuild)
    spec.validate(source)
    return spec


def parse_inference(section: Mapping[str, Any], spatial_dims: int,
                    source: str = MODEL_JSON) -> InferenceSettings:
    """The ``inference`` section for a network of ``spatial_dims``; the mode in either spelling."""
    mode = inference_mode(section.get("mode", SLICES2D if spatial_dims == 2 else SLIDING_WINDOW),
                          f"{source}: inference.mode")
    if spatial_dims == 2:
        mode = SLICES2D
    elif mode == SLICES2D:
        raise MedSegError(f"{source}: inference.mode 'slices2d' needs a 2D network (spatial_dims 2)")
    patch = section.get("patch_size")
    if patch is not None:
        if not isinstance(patch, (list, tuple)) or not all(_is_int(p) and p > 0 for p in patch):
            raise MedSegError(f"{source}: inference.patch_size must be a list of positive integers")
        patch = tuple(int(p) for p in patch)
        if mode == SLIDING_WINDOW and len(patch) != 3:
            raise MedSegError(f"{source}: inference.patch_size needs 3 sizes [z, y, x], got {list(patch)}")
    elif mode == SLIDING_WINDOW:
        raise MedSegError(f"{source}: inference.mode 'sliding_window' needs inference.patch_size")
    return InferenceSettings(mode, patch, _overlap(section.get("overlap", DEFAULT_OVERLAP), source),
                             spatial_dims)


# ----------------------------------------------------------------------------- building

def build_meta(
    *,
    name: str,
    network: Mapping[str, Any],
    channels: Sequence[str],
    modality: str,
    output: OutputSpec,
    preprocessing: Mapping[str, Any],
    inference: InferenceSettings,
    recipe: Mapping[str, Any],
    validation_metrics: Mapping[str, Any],
    members: Sequence[MemberInfo],
    created: str | None = None,
) -> BundleMeta:
    """The metadata of a new bundle, checked by parsing back exactly the document that will be stored.

    ``network`` is ``{"name": ..., "args": {...}}``; values are stored as their JSON equivalents
    (tuples, numpy scalars, paths; NaN as null with the reason beside it).
    """
    meta = BundleMeta(
        name=str(name),
        created=created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        network=NetworkSpec(str(network["name"]), freeze(dict(network["args"]))),
        channels=tuple(channels),
        modality=str(modality),
        output=output,
        preprocessing=freeze(dict(preprocessing)),
        inference=inference,
        recipe=freeze(dict(recipe)),
        validation_metrics=freeze(dict(validation_metrics)),
        members=tuple(members),
    )
    return parse_meta(plain_json(meta.to_dict()), f"{name} ({MODEL_JSON})")


def plain_json(document: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``document`` in plain, strict JSON types (what a reader will get back):
    tuples become lists, numpy values Python ones, paths strings, NaN/inf null with the reason
    beside them, as every JSON file the tool writes."""

    def convert(value: Any) -> Any:
        if hasattr(value, "tolist"):  # numpy scalars and arrays, torch tensors
            return value.tolist()
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, Mapping):  # frozen sections
            return dict(value)
        raise MedSegError(f"{MODEL_JSON}: cannot store a {type(value).__name__} value ({value!r:.80})")

    try:
        return strict_json_value(json.loads(json.dumps(dict(document), default=convert, allow_nan=True)))
    except (TypeError, ValueError) as exc:
        raise MedSegError(f"{MODEL_JSON}: the metadata is not JSON-compatible ({exc})") from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _label(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise MedSegError(f"{where}: expected an integer label value, got {value!r}")
    return int(value)


def _rebuild_step(step: Any, where: str) -> tuple[str, int]:
    if isinstance(step, Mapping) and set(step) >= {"region", "label"}:
        return str(step["region"]), _label(step["label"], where)
    if isinstance(step, (list, tuple)) and len(step) == 2:
        return str(step[0]), _label(step[1], where)
    raise MedSegError(f"{where}: each step must be {{'region': name, 'label': value}}, got {step!r}")


def _overlap(value: Any, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise MedSegError(f"{source}: inference overlap must be a number in [0, 1), got {value!r}")
    return float(value)


__all__ = ["BundleMeta", "InferenceSettings", "MemberInfo", "NetworkSpec", "build_meta", "freeze",
           "parse_inference", "parse_meta", "parse_output", "plain_json", "thaw"]
