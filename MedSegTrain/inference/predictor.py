"""``predict_volume``: bundles + an image -> label map on exactly the input's grid.

The order of work: load and check every bundle against the input (refusing a misfit before any
work), replay each bundle group's preprocessing, plan one window grid per group, run all its
members x TTA variants through :func:`~MedSegTrain.inference.runner.run_ensemble`, restore the
probabilities onto the input grid, average over groups (each member counts once), decode the
label map (argmax / threshold 0.5 + region rebuild), and optionally keep the largest component
and compute an uncertainty map.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from MedSegTrain.bundle.modes import SLICES2D
from MedSegTrain.bundle.output import OutputSpec
from MedSegTrain.device import resolve_device
from MedSegTrain.errors import MedSegError
from MedSegTrain.inference.backends import OpenVinoMember, check_backend, wrap_members
from MedSegTrain.inference.budget import Budget, Clock, choose, choose_accumulator, time_window
from MedSegTrain.inference.ensemble import BundleGroup, check_ensemble, group_bundles, weighted_average
from MedSegTrain.inference.members import LazyMember, SliceWise
from MedSegTrain.inference.postprocess import keep_largest_component
from MedSegTrain.inference.runner import Precision, count_steps, run_ensemble
from MedSegTrain.inference.sliding_window import WindowPlan, plan_windows
from MedSegTrain.inference.tta import tta_variants
from MedSegTrain.inference.uncertainty import check_measure, entropy_map, variance_map
from MedSegTrain.io import Volume
from MedSegTrain.predict_options import OptionError, PredictOptions
from MedSegTrain.progress import Progress


@dataclass
class Prediction:
    """The result of :func:`predict_volume`, everything on the input's grid.

    ``probabilities`` ``(K, z, y, x)`` float32 (channel meanings in ``channel_names``) when
    asked for; ``uncertainty`` a float32 volume when a measure was asked for.
    """

    label: Volume
    probabilities: np.ndarray | None
    uncertainty: Volume | None
    channel_names: list[str]
    n_predictions: int
    budget: Budget | None = None
    """What ``time_limit`` / ``max_memory_mb`` chose (members, TTA variants, accumulator)."""


@dataclass
class _PreparedGroup:
    group: BundleGroup
    spec: Any
    prepared: Any
    plan: WindowPlan


def predict_volume(bundles: Sequence[Any], channels: Sequence[Volume], tta: int = 0,
                   device: str = "auto", progress: Progress | None = None, *,
                   probabilities: bool = False, uncertainty: str | None = None,
                   largest_component: bool = False, overlap: float | None = None,
                   batch_size: int = 8, precision: str = "auto",
                   channels_last: bool = False, time_limit: float | None = None,
                   max_memory_mb: float | None = None, backend: str = "torch",
                   options: PredictOptions | None = None,
                   clock: Clock = time.perf_counter) -> Prediction:
    """Segment ``channels`` (one co-registered :class:`Volume` per input channel) with ``bundles``.

    ``bundles``: :class:`MedSegTrain.bundle.ModelBundle` objects or paths to them; all their
    members are averaged. ``tta``: number of test-time variants (0 = none, up to 16, B8).
    ``overlap`` overrides the bundles' sliding-window overlap (L3). ``uncertainty``:
    ``"entropy"`` or ``"variance"`` (see :mod:`MedSegTrain.inference.uncertainty`).
    ``batch_size``: (window, variant) samples per forward call. ``time_limit`` (seconds): one
    window is timed, then as many TTA variants (then members) as fit are used; ``max_memory_mb``
    switches the accumulators to float16 when float32 would not fit (see
    :mod:`MedSegTrain.inference.budget`); what was chosen is in ``Prediction.budget``.
    ``backend``: ``torch`` or ``openvino`` (CPU only, see :mod:`MedSegTrain.inference.backends`);
    ``precision`` ``bfloat16`` is offered on CUDA and on CPUs with native bf16.
    ``options``: the same run settings as one checked :class:`PredictOptions` (the CLI, the demo
    and the Slicer module build one); when given, it replaces ``tta`` ... ``backend``.
    Bad settings are refused in the command line's words (``--batch-size ...``), as every
    caller shows them to someone who set a flag or a field named like it.
    """
    settings = options if options is not None else PredictOptions(
        tta=tta, device=device, overlap=overlap, batch_size=batch_size, precision=precision,
        time_limit=time_limit, max_memory_mb=max_memory_mb, backend=backend)
    try:
        settings.validate()
    except OptionError as exc:
        raise exc.for_cli() from None
    tta, device, overlap, batch_size = settings.tta, settings.device, settings.overlap, settings.batch_size
    precision, time_limit, max_memory_mb = settings.precision, settings.time_limit, settings.max_memory_mb
    backend = settings.backend
    check_measure(uncertainty)
    volumes = _check_channels(channels)
    loaded = [_load(b) for b in bundles]
    output = check_ensemble(loaded, len(volumes), overlap)
    groups = group_bundles(loaded, overlap)
    variants_3d = tta_variants(tta)
    torch_device = resolve_device(device)
    chosen = _precision(precision, torch_device)
    check_backend(backend, torch_device, chosen)
    progress = progress or Progress("none")

    prepared = [_prepare(group, volumes) for group in groups]
    variants = {id(p): tta_variants(tta, in_plane_only=True) if p.group.settings.mode == SLICES2D
                else variants_3d for p in prepared}
    built = {id(p): _build_members(p.group, torch_device, backend, chosen) for p in prepared}
    budget = None
    if time_limit is not None or max_memory_mb is not None:
        budget = _budget(prepared, built, variants, len(output.channel_names), len(volumes),
                         uncertainty == "variance", time_limit, max_memory_mb, torch_device, clock)
        _apply(budget, prepared, built, variants)
        progress.log(f"budget: {budget.members} member(s) x {budget.variants} TTA variant(s), "
                     f"{budget.accumulate} accumulators ({budget.reason})")
    work = [p for p in prepared if built[id(p)]]
    total = sum(count_steps(p.plan, len(built[id(p)]), len(variants[id(p)]), batch_size) for p in work)
    progress.task("predict", total)
    start, done = clock(), [0]

    def step(n: int) -> None:
        done[0] += n
        eta = (clock() - start) / done[0] * (total - done[0])
        progress.advance(n, message=f"windows {done[0]}/{total}, ETA {eta:.0f} s", eta_s=round(eta, 1))

    means: list[tuple[np.ndarray, int]] = []
    seconds: list[tuple[np.ndarray, int]] = []
    for item in work:
        members = built.pop(id(item))
        image = torch.from_numpy(item.prepared.array).to(torch_device)
        result = run_ensemble(image, members, item.plan, variants[id(item)], output.activation,  # type: ignore[arg-type]
                              batch_size=batch_size, second_moment=uncertainty == "variance",
                              precision=chosen if backend == "torch" else "float32",
                              channels_last=channels_last,
                              accumulate="float32" if budget is None else budget.accumulate,  # type: ignore[arg-type]
                              on_step=step)
        del members
        fill = output.background_fill
        restored = item.spec.restore(result.mean.cpu().numpy(), item.prepared, fill)
        means.append((restored, result.n_predictions))
        if result.second_moment is not None:
            seconds.append((item.spec.restore(result.second_moment.cpu().numpy(), item.prepared, fill),
                            result.n_predictions))
    progress.close()
    mean = weighted_average(means)
    labels = output.decode(mean)
    if largest_component:
        labels = keep_largest_component(labels)
    reference = volumes[0]
    uncertainty_volume = None
    if uncertainty == "entropy":
        uncertainty_volume = reference.with_array(entropy_map(mean, output.activation))
    elif uncertainty == "variance":
        uncertainty_volume = reference.with_array(variance_map(mean, weighted_average(seconds)))
    return Prediction(reference.with_array(labels), mean if probabilities else None, uncertainty_volume,
                      output.channel_names, sum(n for _m, n in means), budget)


def _budget(prepared: list[_PreparedGroup], built: dict, variants: dict, n_channels: int, n_inputs: int,
            second_moment: bool, time_limit: float | None, max_memory_mb: float | None,
            device: torch.device, clock: Clock) -> Budget:
    """Time one window of the first member, then choose members x variants and the accumulator."""
    voxels = max(int(np.prod(p.plan.padded_shape)) for p in prepared)
    accumulate = choose_accumulator(n_channels, n_inputs, voxels, second_moment, max_memory_mb)
    n_members = sum(len(m) for m in built.values())
    n_variants = max(len(v) for v in variants.values())
    if time_limit is None:
        return Budget(n_members, n_variants, accumulate, None, None, "no time limit")
    first = prepared[0]
    window = torch.from_numpy(first.prepared.array).to(device)
    window = torch.nn.functional.pad(window[None].float(), first.plan.pad_torch())
    window = window[(slice(None), slice(None), *first.plan.windows[0])]
    member = built[id(first)][0].module()
    if isinstance(member, OpenVinoMember):  # its first call traces and compiles: not a forward's time
        member.compile_for(window)
    per_window = time_window(member, window, clock)
    n_windows = max(len(p.plan.windows) for p in prepared)
    members, n_used, reason = choose(n_windows, n_members, n_variants, per_window, time_limit)
    estimate = members * n_used * n_windows * per_window
    return Budget(members, n_used, accumulate, round(estimate, 3), round(per_window, 4), reason)


def _apply(budget: Budget, prepared: list[_PreparedGroup], built: dict, variants: dict) -> None:
    """Keep the first ``budget.members`` members (group by group) and ``budget.variants`` variants."""
    left = budget.members
    for item in prepared:
        keep = built[id(item)][:left]
        left -= len(keep)
        built[id(item)] = keep
        variants[id(item)] = variants[id(item)][:budget.variants]


def _load(bundle: Any) -> Any:
    if isinstance(bundle, (str, Path)):
        from MedSegTrain.bundle import load_bundle

        return load_bundle(Path(bundle))
    return bundle


def _check_channels(channels: Sequence[Volume]) -> list[Volume]:
    volumes = list(channels)
    if not volumes:
        raise MedSegError("--input: give at least one image (one per input channel)")
    for i, volume in enumerate(volumes):
        if not isinstance(volume, Volume):
            raise MedSegError(f"input channel {i}: expected a Volume, got {type(volume).__name__}")
        if volume.ndim != 3:
            raise MedSegError(f"input channel {i}: predict needs 3D images, got a {volume.ndim}D image")
    shape = volumes[0].array.shape
    for i, volume in enumerate(volumes[1:], start=1):
        if volume.array.shape != shape:
            raise MedSegError(f"input channel {i}: its size {volume.geometry.size} differs from channel 0's "
                              f"{volumes[0].geometry.size}; channels must be co-registered on one grid")
    return volumes


def _precision(precision: str, device: torch.device) -> Precision:
    if precision == "auto" or precision == "float32" or device.type == "cuda":
        return "float32" if precision == "auto" else precision  # type: ignore[return-value]
    if precision == "bfloat16" and cpu_has_bf16():
        return "bfloat16"
    if precision == "bfloat16":
        raise MedSegError("--precision bfloat16 on a CPU needs native bf16 (AVX512-BF16 or AMX), which this "
                          "CPU lacks: use float32")
    raise MedSegError(f"--precision {precision} is only offered on CUDA; on {device.type} use float32 "
                      f"(or bfloat16 on a CPU with native bf16)")


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (oneDNN's own check: AVX512-BF16 or AMX)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _prepare(group: BundleGroup, volumes: list[Volume]) -> _PreparedGroup:
    from MedSegTrain.preprocessing.pipeline import PreprocessingSpec

    spec = PreprocessingSpec.from_dict(group.preprocessing)
    prepared = spec.prepare_image(volumes)
    s = group.settings
    plan = plan_windows(prepared.array.shape[1:], s.mode, s.window_size, s.overlap)
    return _PreparedGroup(group, spec, prepared, plan)


def _build_members(group: BundleGroup, device: torch.device, backend: str,
                   precision: Precision) -> list[LazyMember]:
    """The group's members, each loaded when its pass begins (one member in memory at a time).

    Every member is built once here and dropped, so weights that do not load or fit fail before
    any inference runs rather than after the first members' passes.
    """
    def build(bundle: Any, index: int) -> torch.nn.Module:
        member = bundle.build_member(index, device=str(device)).eval()
        member = SliceWise(member) if group.settings.spatial_dims == 2 else member
        return wrap_members([member], backend, precision)[0]

    members: list[LazyMember] = []
    for bundle in group.bundles:
        for i in range(bundle.n_members):
            bundle.build_member(i, device="cpu")
            members.append(LazyMember(functools.partial(build, bundle, i)))
    return members


def output_spec(bundle: Any) -> OutputSpec:
    """The output declaration of one bundle (label names/values, activation, regions)."""
    return _load(bundle).info.output
