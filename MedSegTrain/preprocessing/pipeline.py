"""The preprocessing a model was trained with, replayed identically at inference (C1, L4, X6, B5, B8, T2).

A :class:`PreprocessingSpec` is stored in every bundle (``model.json`` → ``"preprocessing"``)
and runs in training, in ``medsegtrain predict`` and behind the Slicer module. Order and why:

1. **window** — on the raw intensities (HU for CT), where the preset's values are defined;
2. **N4** (MR) — on the windowed image, before any crop, so the field is fitted on the whole
   anatomy; it needs the positive intensities that a window keeps;
3. **crop** to the non-zero box (+ margin) — after N4, before resampling, so no time is spent
   resampling background;
4. **resample** to ``target_spacing`` and/or the in-plane ``fixed_size`` / ``inplane_size``;
5. **normalise** per channel — on the final grid, so statistics describe what the network sees;
6. **pad** (``fixed_size`` slices, ``pad_multiple``) with 0 after normalisation, i.e. with the
   normalised background/mean, so padding does not bias the statistics.

:meth:`PreprocessingSpec.restore` undoes 6 → 3 on network output: unpad, resample back
linearly onto the cropped grid, and place it into the input grid (outside the crop: ``fill``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from MedSegTrain.errors import MedSegError
from MedSegTrain.io import Geometry, Volume
from MedSegTrain.preprocessing import cropping, resampling
from MedSegTrain.preprocessing.n4 import check_n4_params, n4_correct
from MedSegTrain.preprocessing.normalization import check_normalization, normalize
from MedSegTrain.preprocessing.windowing import WindowPreset, get_preset

IMAGE_INTERPOLATIONS = ("linear", "bspline")
_FIELDS = (
    "window",
    "normalization",
    "norm_params",
    "target_spacing",
    "n4",
    "n4_params",
    "crop_nonzero",
    "crop_margin",
    "fixed_size",
    "inplane_size",
    "pad_multiple",
    "interpolation",
)


@dataclass(frozen=True)
class PreparedContext:
    """What :meth:`PreprocessingSpec.restore` needs to map output back onto the input grid.

    ``crop_box`` is in the input's array indices ``(z, y, x)``; ``resampled`` is None when no
    resampling happened; ``pad`` was applied last; ``window_bounds`` are the clip bounds used
    per channel (computed from the image for percentile presets).
    """

    original: Geometry
    crop_box: cropping.Box
    cropped: Geometry
    resampled: Geometry | None
    pad: cropping.Pad
    window_bounds: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Prepared:
    """Network input ``array`` ``(C, z, y, x)`` float32 on ``geometry``, and how to undo it."""

    array: np.ndarray
    geometry: Geometry
    context: PreparedContext


@dataclass(frozen=True)
class PreprocessingSpec:
    """Preprocessing recipe; see the module docstring for the order of the steps.

    ``target_spacing`` is ``(x, y, z)`` mm; ``fixed_size`` is ``(z, y, x)`` voxels (X6: in-plane
    axes are resampled to it, slices zero-padded up to it or resampled down when there are
    more); ``inplane_size`` is ``(y, x)`` voxels: every slice resampled to it, the slice count
    kept (C3: 512 -> 128; :meth:`restore` maps the output back up); ``crop_margin`` is voxels,
    one value or ``(z, y, x)``.
    """

    window: WindowPreset = field(default_factory=lambda: get_preset("none"))
    normalization: str = "zscore"
    norm_params: Mapping[str, Any] = field(default_factory=dict)
    target_spacing: tuple[float, ...] | None = None
    n4: bool = False
    n4_params: Mapping[str, Any] = field(default_factory=dict)
    crop_nonzero: bool = False
    crop_margin: int | tuple[int, ...] = 0
    fixed_size: tuple[int, ...] | None = None
    inplane_size: tuple[int, ...] | None = None
    pad_multiple: int = 1
    interpolation: str = "linear"

    def __post_init__(self) -> None:
        _validate(self)

    # ------------------------------------------------------------------ images
    def prepare_image(self, channels: Sequence[Volume]) -> Prepared:
        """Window, N4, crop, resample, normalise and pad co-registered channels.

        Channels whose grid differs from the first one are first resampled onto it (linear).
        The inputs are never modified.
        """
        volumes = _check_channels(channels)
        reference = volumes[0].geometry
        arrays = [_on_reference(v, reference) for v in volumes]
        bounds = tuple(self.window.bounds(a) for a in arrays)
        if self.window.kind != "none":
            arrays = [self.window.apply(a, b) for a, b in zip(arrays, bounds, strict=True)]
        if self.n4:
            params = check_n4_params(self.n4_params, "preprocessing.n4_params")
            arrays = [n4_correct(a, tuple(reversed(reference.spacing)), **params) for a in arrays]
        box = (
            cropping.nonzero_box(arrays, self.crop_margin)
            if self.crop_nonzero
            else cropping.full_box(reference.shape)
        )
        stack = _stack_cropped(arrays, box)
        cropped = _cropped_geometry(reference, box)
        target = self._target_grid(cropped)
        resampled = None
        if not target.same_as(cropped, tol=1e-9):
            stack = resampling.resample_array(stack, cropped, target, self.interpolation)
            resampled = target
        for i in range(stack.shape[0]):
            stack[i] = normalize(stack[i], self.normalization, self.norm_params, i)
        wanted = self._padded_shape(stack.shape[1:])
        pad = tuple((0, 0) for _ in wanted)
        if wanted != stack.shape[1:]:
            stack, pad = cropping.pad_to_shape(stack, wanted)
        context = PreparedContext(reference, box, cropped, resampled, pad, bounds)
        return Prepared(np.ascontiguousarray(stack, dtype=np.float32), _padded_geometry(target, pad), context)

    def prepare_label(self, label: Volume, prepared: Prepared) -> np.ndarray:
        """The label map on ``prepared``'s grid (nearest neighbour), ``(z, y, x)`` integers; pad is 0."""
        ctx = prepared.context
        if not isinstance(label, Volume):
            raise MedSegError(f"label: expected a Volume, got {type(label).__name__}")
        if not label.geometry.same_as(ctx.original, tol=1e-4):
            raise MedSegError(
                "label: its grid (size/spacing/origin/direction) differs from the image's "
                f"({label.geometry.size} vs {ctx.original.size}); resample it onto the image first"
            )
        data = np.asarray(label.array)
        if data.dtype.kind == "f":
            data = np.rint(data).astype(np.int32)
        elif data.dtype.kind == "b":
            data = data.astype(np.uint8)
        cut = cropping.crop(data, ctx.crop_box)
        if ctx.resampled is not None:
            cut = resampling.resample_array(cut, ctx.cropped, ctx.resampled, "nearest")
        return cropping.pad_to_shape(cut, prepared.array.shape[1:], 0)[0]

    def restore(
        self, prob: np.ndarray, prepared: Prepared, fill: float | Sequence[float] = 0.0
    ) -> np.ndarray:
        """Map ``prob`` ``(K, z, y, x)`` on ``prepared``'s grid back onto the input grid (float32).

        Undoes the pad, resamples linearly when the input was resampled (exact identity
        otherwise), and fills voxels outside the crop with ``fill`` (one value, or one per
        channel, e.g. ``[1, 0, 0]`` for softmax background).
        """
        ctx = prepared.context
        data = np.asarray(prob)
        if data.ndim != len(ctx.original.shape) + 1 or data.shape[1:] != prepared.array.shape[1:]:
            raise MedSegError(
                f"restore: expected an array (K, {', '.join(map(str, prepared.array.shape[1:]))}), "
                f"got shape {data.shape}"
            )
        data = cropping.unpad(data.astype(np.float32, copy=False), ctx.pad)
        if ctx.resampled is not None:
            data = resampling.resample_array(data, ctx.resampled, ctx.cropped, "linear")
        return cropping.uncrop(np.asarray(data, dtype=np.float32), ctx.crop_box, ctx.original.shape, fill)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form stored in ``model.json``; :meth:`from_dict` restores an equal spec.

        ``inplane_size`` appears only when set, so bundles without it stay readable by earlier
        versions.
        """
        inplane = {} if self.inplane_size is None else {"inplane_size": list(self.inplane_size)}
        return {
            "window": self.window.to_dict(),
            "normalization": self.normalization,
            "norm_params": _plain(self.norm_params),
            "target_spacing": list(self.target_spacing) if self.target_spacing is not None else None,
            "n4": self.n4,
            "n4_params": _plain(self.n4_params),
            "crop_nonzero": self.crop_nonzero,
            "crop_margin": list(self.crop_margin)
            if isinstance(self.crop_margin, tuple)
            else self.crop_margin,
            "fixed_size": list(self.fixed_size) if self.fixed_size is not None else None,
            "pad_multiple": self.pad_multiple,
            "interpolation": self.interpolation,
            **inplane,
        }

    @classmethod
    def from_dict(cls, data: Any) -> PreprocessingSpec:
        """Rebuild a spec; missing fields take their defaults, wrong ones raise naming the field."""
        if not isinstance(data, Mapping):
            raise MedSegError(f"preprocessing: expected a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise MedSegError(f"preprocessing: unknown field(s) {', '.join(unknown)}")
        kwargs: dict[str, Any] = dict(data)
        if "window" in kwargs:
            kwargs["window"] = WindowPreset.from_dict(kwargs["window"], "preprocessing.window")
        for name in ("target_spacing", "fixed_size", "inplane_size", "crop_margin"):
            if isinstance(kwargs.get(name), list):
                kwargs[name] = tuple(kwargs[name])
        return cls(**kwargs)

    # ------------------------------------------------------------------ grids
    def _target_grid(self, cropped: Geometry) -> Geometry:
        grid = cropped
        if self.target_spacing is not None:
            if len(self.target_spacing) != grid.ndim:
                raise MedSegError(
                    f"preprocessing.target_spacing: has {len(self.target_spacing)} values "
                    f"for a {grid.ndim}D image"
                )
            grid = resampling.spacing_geometry(grid, self.target_spacing)
        if self.fixed_size is not None:
            if len(self.fixed_size) != grid.ndim:
                raise MedSegError(
                    f"preprocessing.fixed_size: has {len(self.fixed_size)} values for a {grid.ndim}D image"
                )
            size = list(reversed(self.fixed_size))
            if grid.ndim == 3:  # slices: zero-padded later when fewer, resampled down when more
                size[-1] = min(grid.size[-1], size[-1])
            if tuple(size) != grid.size:
                grid = resampling.size_geometry(grid, size)
        if self.inplane_size is not None:
            size = [self.inplane_size[1], self.inplane_size[0], *grid.size[2:]]
            if tuple(size) != grid.size:
                grid = resampling.size_geometry(grid, size)
        return grid

    def _padded_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        wanted = list(shape)
        if self.fixed_size is not None:
            wanted = [max(a, b) for a, b in zip(wanted, self.fixed_size, strict=True)]
        m = self.pad_multiple
        return tuple(-(-n // m) * m for n in wanted)


RECIPES: dict[str, dict[str, Any]] = {
    "mixup-prostate": {"normalization": "zscore", "fixed_size": [32, 320, 320]},  # X6
    "kits-mixed-focal": {
        "window": "ct-kits-clip",
        "normalization": "zscore",
        "target_spacing": [1.62, 1.62, 3.22],
    },  # L4
    "brats-a": {
        "window": "none",
        "normalization": "percentile-minmax",
        "crop_nonzero": True,
        "pad_multiple": 8,
    },  # B5 pipeline A, B8
    "brats-b": {
        "normalization": "zscore-nonzero",
        "crop_nonzero": True,
        "pad_multiple": 8,
    },  # B5 pipeline B, B8
    "ct-percentile": {"window": "ct-percentile", "normalization": "zscore"},  # C1 (use fixed-zscore for C2)
    "prostate-n4": {"n4": True, "normalization": "zscore"},  # T2 (use fixed-zscore for T6)
}


def recipe(name: str, **overrides: Any) -> PreprocessingSpec:
    """A named paper recipe (see :data:`RECIPES`), with fields overridden by keyword."""
    if name not in RECIPES:
        raise MedSegError(f"preprocessing recipe {name!r} is unknown; choose one of {', '.join(RECIPES)}")
    return PreprocessingSpec.from_dict({**RECIPES[name], **overrides})


def _validate(spec: PreprocessingSpec) -> None:
    if not isinstance(spec.window, WindowPreset):
        raise MedSegError(f"preprocessing.window: expected a WindowPreset, got {type(spec.window).__name__}")
    if not isinstance(spec.norm_params, Mapping):
        raise MedSegError("preprocessing.norm_params: expected a mapping")
    check_normalization(spec.normalization, spec.norm_params, "preprocessing.normalization")
    if spec.target_spacing is not None:
        _numbers(spec.target_spacing, "preprocessing.target_spacing", integer=False)
    if spec.fixed_size is not None:
        _numbers(spec.fixed_size, "preprocessing.fixed_size", integer=True)
    if spec.inplane_size is not None:
        _numbers(spec.inplane_size, "preprocessing.inplane_size", integer=True)
        if len(spec.inplane_size) != 2:
            raise MedSegError(f"preprocessing.inplane_size: expected [y, x], got {list(spec.inplane_size)}")
    for name in ("n4", "crop_nonzero"):
        if not isinstance(getattr(spec, name), bool):
            raise MedSegError(f"preprocessing.{name}: expected true/false, got {getattr(spec, name)!r}")
    if not isinstance(spec.n4_params, Mapping):
        raise MedSegError("preprocessing.n4_params: expected a mapping")
    check_n4_params(spec.n4_params, "preprocessing.n4_params")
    margin = spec.crop_margin if isinstance(spec.crop_margin, tuple) else (spec.crop_margin,)
    if not all(isinstance(m, int) and not isinstance(m, bool) and m >= 0 for m in margin):
        raise MedSegError(f"preprocessing.crop_margin: expected integers >= 0, got {spec.crop_margin!r}")
    pm = spec.pad_multiple
    if isinstance(pm, bool) or not isinstance(pm, int) or pm < 1:
        raise MedSegError(f"preprocessing.pad_multiple: expected an integer >= 1, got {pm!r}")
    if spec.interpolation not in IMAGE_INTERPOLATIONS:
        raise MedSegError(
            f"preprocessing.interpolation: {spec.interpolation!r} is not one of "
            f"{', '.join(IMAGE_INTERPOLATIONS)}"
        )


def _numbers(values: Any, where: str, integer: bool) -> None:
    if not isinstance(values, tuple) or len(values) not in (2, 3):
        raise MedSegError(f"{where}: expected 2 or 3 numbers, got {values!r}")
    for v in values:
        ok = isinstance(v, int) if integer else isinstance(v, (int, float))
        if isinstance(v, bool) or not ok or not math.isfinite(v) or v <= 0:
            kind = "positive integers" if integer else "positive numbers"
            raise MedSegError(f"{where}: expected {kind}, got {list(values)!r}")


def _check_channels(channels: Sequence[Volume]) -> list[Volume]:
    volumes = list(channels) if not isinstance(channels, Volume) else [channels]
    if not volumes:
        raise MedSegError("prepare_image: no input channels given")
    for i, v in enumerate(volumes):
        if not isinstance(v, Volume):
            raise MedSegError(f"prepare_image: channel {i} is a {type(v).__name__}, not a Volume")
    return volumes


def _on_reference(volume: Volume, reference: Geometry) -> np.ndarray:
    if volume.geometry.same_as(reference, tol=1e-4):
        return volume.array
    return resampling.resample_array(volume.array, volume.geometry, reference, "linear")


def _stack_cropped(arrays: Sequence[np.ndarray], box: cropping.Box) -> np.ndarray:
    """One float32 ``(C, *box)`` copy of the channels' crops (the only full copy of the input)."""
    region = tuple(slice(a, b) for a, b in box)
    stack = np.empty((len(arrays), *(b - a for a, b in box)), np.float32)
    for i, array in enumerate(arrays):
        stack[i] = array[region]
    return stack


def _cropped_geometry(geometry: Geometry, box: cropping.Box) -> Geometry:
    start_xyz = np.array([a for a, _ in reversed(box)], dtype=np.float64)
    size_xyz = tuple(b - a for a, b in reversed(box))
    origin = geometry.index_to_physical(start_xyz)
    return Geometry(size_xyz, geometry.spacing, tuple(origin.tolist()), geometry.direction)


def _padded_geometry(geometry: Geometry, pad: cropping.Pad) -> Geometry:
    before_xyz = np.array([-b for b, _ in reversed(pad)], dtype=np.float64)
    size_xyz = tuple(n + b + a for n, (b, a) in zip(geometry.size, reversed(pad), strict=True))
    origin = geometry.index_to_physical(before_xyz)
    return Geometry(size_xyz, geometry.spacing, tuple(origin.tolist()), geometry.direction)


def _plain(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in mapping.items()}
