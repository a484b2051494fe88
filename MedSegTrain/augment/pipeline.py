"""``build_augmentation(config) -> Augmenter``: the configured transforms, run on whole batches.

Config (a plain dict, e.g. the ``augmentation`` section of a training recipe)::

    {"preset": "brats",                # optional: start from a named preset
     "batch_probability": 0.8,         # fraction of batches augmented at all (C4: 0.8 3D, 0.9 2D)
     "transforms": [                   # replaces the preset's list when given
         {"name": "flip", "axes": [-1], "p": 0.5},
         {"name": "affine", "rotate": 45, "scale": [0.5, 1.5], "translate": 0.1, "p": 1.0},
         ...]}

A string is taken as a preset name; ``None`` or ``{}`` gives an Augmenter that changes nothing.
Transforms run in the listed order, except that ``affine`` and ``elastic`` are fused into one
resampling at the place of the first of them. Each name may appear once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import MedSegError
from .base import Labels, Options, Params, Transform
from .ct import IntensityRangeShift, SliceInterpolation, SliceSkip
from .intensity import Brightness, ChannelDrop, ChannelRescale, ChannelShift, Contrast, Gamma, GaussianNoise
from .presets import get_preset
from .randomness import resolve_generator, uniform
from .spatial import Affine, Elastic, Flip, SpatialResample

TRANSFORMS: dict[str, Any] = {
    cls.name: cls
    for cls in (
        Flip,
        Affine,
        Elastic,
        Brightness,
        Contrast,
        Gamma,
        GaussianNoise,
        ChannelRescale,
        ChannelShift,
        ChannelDrop,
        SliceSkip,
        SliceInterpolation,
        IntensityRangeShift,
    )
}
CONFIG_KEYS = ("preset", "batch_probability", "transforms")


@dataclass
class AugmentationRecord:
    """What one call drew: whether the batch was augmented and each step's parameters."""

    augmented: bool
    shape: tuple[int, ...]
    steps: list[tuple[str, Params]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (tensors as nested lists)."""
        return {
            "augmented": self.augmented,
            "shape": list(self.shape),
            "steps": [
                {"name": name, **{key: value.tolist() for key, value in params.items()}}
                for name, params in self.steps
            ],
        }


class Augmenter:
    """Runs its transforms on a batch ``images (N, C, ...)`` with ``labels (N, 1 | K, ...)``.

    Every call draws from the given ``torch.Generator``; the draws of the last call are kept in
    ``last_record`` and can be replayed on another batch with ``replay`` (e.g. a second view).
    Inputs are never modified; when nothing is applied they come back as they are.
    """

    def __init__(self, transforms: list[Transform], batch_probability: float = 1.0) -> None:
        self.transforms = transforms
        self.batch_probability = batch_probability
        self.last_record: AugmentationRecord | None = None

    def __call__(
        self, images: torch.Tensor, labels: Labels = None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, Labels]:
        _check_batch(images, labels)
        record = self.sample(images.shape, resolve_generator(generator), images.device)
        self.last_record = record
        return self.replay(images, labels, record)

    def sample(
        self, shape: torch.Size, generator: torch.Generator, device: torch.device
    ) -> AugmentationRecord:
        """Draw the parameters for a batch of ``shape`` without touching any data."""
        draw = uniform(generator, (1,), 0.0, 1.0, torch.device("cpu"))
        if not self.transforms or float(draw) >= self.batch_probability:
            return AugmentationRecord(augmented=False, shape=tuple(shape))
        steps = [(step.name, step.sample(shape, generator, device)) for step in self.transforms]
        return AugmentationRecord(augmented=True, shape=tuple(shape), steps=steps)

    def replay(
        self, images: torch.Tensor, labels: Labels, record: AugmentationRecord
    ) -> tuple[torch.Tensor, Labels]:
        """Apply recorded draws (from ``last_record`` or ``sample``) to a batch of the same shape."""
        _check_batch(images, labels)
        if tuple(images.shape) != tuple(record.shape):
            raise MedSegError(
                f"augmentation record was drawn for a batch of shape {tuple(record.shape)}, "
                f"not {tuple(images.shape)}"
            )
        if not record.augmented:
            return images, labels
        if len(record.steps) != len(self.transforms):
            raise MedSegError("augmentation record does not belong to this Augmenter (different steps)")
        for step, (name, params) in zip(self.transforms, record.steps, strict=True):
            if name != step.name:
                raise MedSegError(f"augmentation record step {name!r} does not match transform {step.name!r}")
            if bool(params["applied"].any()):
                images, labels = step.apply(images, labels, params)
        return images, labels

    def to_config(self) -> dict[str, Any]:
        """The config this Augmenter stands for (``build_augmentation`` accepts it back)."""
        entries: list[dict[str, Any]] = []
        for step in self.transforms:
            if isinstance(step, SpatialResample):
                entries.extend(part.options() for part in step.parts())
            else:
                entries.append(step.options())
        return {"batch_probability": self.batch_probability, "transforms": entries}


def build_augmentation(config: Mapping[str, Any] | str | None) -> Augmenter:
    """Validate an augmentation config and build its Augmenter (see the module docstring)."""
    if config is None:
        return Augmenter([])
    if isinstance(config, str):
        config = {"preset": config}
    if not isinstance(config, Mapping):
        raise MedSegError(
            f"augmentation config must be a mapping or a preset name, got {type(config).__name__}"
        )
    unknown = sorted(set(map(str, config)) - set(CONFIG_KEYS))
    if unknown:
        raise MedSegError(
            f"augmentation: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(CONFIG_KEYS)}"
        )
    base = get_preset(config["preset"]) if config.get("preset") is not None else {}
    merged = {**base, **{key: value for key, value in config.items() if key != "preset"}}
    top = Options({"batch_probability": merged.get("batch_probability", 1.0)}, "augmentation")
    batch_probability = top.probability("batch_probability", 1.0)
    entries = merged.get("transforms", [])
    if not isinstance(entries, list):
        raise MedSegError(f"augmentation.transforms must be a list, got {type(entries).__name__}")
    return Augmenter(_build_steps(entries), batch_probability)


def _build_steps(entries: list[Any]) -> list[Transform]:
    steps: list[Transform | None] = []
    seen: set[str] = set()
    affine: Affine | None = None
    elastic: Elastic | None = None
    spatial_position: int | None = None
    for position, entry in enumerate(entries):
        where = f"augmentation.transforms[{position}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping) or "name" not in entry:
            raise MedSegError(f"{where} must be a mapping with a 'name' (or just a name), got {entry!r}")
        name = entry["name"]
        if not isinstance(name, str) or name not in TRANSFORMS:
            raise MedSegError(f"{where}: unknown transform {name!r}; known: {', '.join(sorted(TRANSFORMS))}")
        if name in seen:
            raise MedSegError(f"{where}: transform {name!r} is listed twice")
        seen.add(name)
        options = Options({key: value for key, value in entry.items() if key != "name"}, f"{where} ({name})")
        transform = TRANSFORMS[name].from_options(options)
        options.finish()
        if isinstance(transform, Affine):
            affine = transform
        if isinstance(transform, Elastic):
            elastic = transform
        if isinstance(transform, (Affine, Elastic)):
            if spatial_position is None:
                spatial_position = len(steps)
                steps.append(transform)  # placeholder, replaced by the fused step below
            continue
        steps.append(transform)
    if spatial_position is not None:
        steps[spatial_position] = _fuse_adjacent_flip(steps, spatial_position, affine, elastic)
        steps = [step for step in steps if step is not None]
    return steps


def _fuse_adjacent_flip(
    steps: list[Transform | None], position: int, affine: Affine | None, elastic: Elastic | None
) -> SpatialResample:
    """Fold a flip listed right before or after the resampling into it (see SpatialResample)."""
    if position > 0 and isinstance(steps[position - 1], Flip):
        flip, steps[position - 1] = steps[position - 1], None
        return SpatialResample(affine, elastic, flip, flip_first=True)
    if position + 1 < len(steps) and isinstance(steps[position + 1], Flip):
        flip, steps[position + 1] = steps[position + 1], None
        return SpatialResample(affine, elastic, flip, flip_first=False)
    return SpatialResample(affine, elastic)


def _check_batch(images: torch.Tensor, labels: Labels) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim not in (4, 5) or not images.is_floating_point():
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise MedSegError(
            f"augmentation images must be a float tensor (N, C, y, x) or (N, C, z, y, x), got {shape}"
        )
    if labels is None:
        return
    if not isinstance(labels, torch.Tensor) or labels.ndim != images.ndim:
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise MedSegError(
            f"augmentation labels must be a tensor shaped like images {tuple(images.shape)}, got {shape}"
        )
    if labels.shape[0] != images.shape[0] or labels.shape[2:] != images.shape[2:]:
        raise MedSegError(
            f"augmentation labels {tuple(labels.shape)} do not match images {tuple(images.shape)} "
            "in batch size or spatial shape"
        )
    if labels.device != images.device:
        raise MedSegError(f"augmentation labels are on {labels.device} but images on {images.device}")
