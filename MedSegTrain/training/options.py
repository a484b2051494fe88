"""Typed, frozen views of a validated training config, built once per run.

The validated dict stays the saved form of a recipe (it travels into ``model.json`` and is
what ``--print-config`` prints); code reads :class:`RecipeOptions` instead, so a key is an
attribute with a type (``options.patch.mode``) rather than a string index re-cast at each use.
Each section class has exactly the keys of its :data:`~MedSegTrain.training.config.SCHEMA`
section; lists become tuples and open mappings read-only, so nothing downstream can change the
run it was handed. :meth:`RecipeOptions.from_config` expects a dict that
:func:`~MedSegTrain.training.config.validate` returned and refuses anything else.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

from MedSegTrain.errors import MedSegError

T = TypeVar("T")


@dataclass(frozen=True)
class DataOptions:
    """``data``: label merging (T1)."""

    merge_labels: str | Mapping[str, tuple[int, ...]] | None


@dataclass(frozen=True)
class StatisticsOptions:
    """``statistics``: where the z-score statistics come from (X6, L4, T6, C2)."""

    source: str
    sample_fraction: float
    nonzero: bool


@dataclass(frozen=True)
class SplitOptions:
    """``split``: how cases are split into folds and the held-out test set (T4, X3, C7)."""

    seed: int | None
    kind: str
    n_folds: int
    test_fraction: float
    train_fraction: float
    robustness_key: str
    folds: str | tuple[int, ...]


@dataclass(frozen=True)
class NetworkOptions:
    """``network``: which network, its open arguments and local encoder weights (T3)."""

    name: str
    args: Mapping[str, Any]
    encoder_weights: str | None


@dataclass(frozen=True)
class SliceSamplingOptions:
    """``patch.slice_sampling``: samples of randomly chosen slices (C3)."""

    n_slices: int | None
    exclude_background: bool


@dataclass(frozen=True)
class PatchOptions:
    """``patch``: mode, size (array order), batch and the foreground share of patches."""

    mode: str
    size: tuple[int, ...]
    batch_size: int
    foreground_fraction: float
    slice_min_foreground: int | None
    slice_sampling: SliceSamplingOptions


@dataclass(frozen=True)
class OutputOptions:
    """``output``: softmax classes or sigmoid regions and their rebuild order (B4, B8)."""

    activation: str
    regions: str | Mapping[str, tuple[int, ...]] | None
    region_rebuild: tuple[Mapping[str, Any], ...] | None


@dataclass(frozen=True)
class LossOptions:
    """``loss``: its name, open parameters and deep supervision."""

    name: str
    params: Mapping[str, Any]
    deep_supervision: bool
    deep_supervision_weights: tuple[float, ...] | None


@dataclass(frozen=True)
class MixupOptions:
    """``mixup``: Beta(alpha, alpha) mixing (X1); 0 = off."""

    alpha: float
    per_sample: bool


@dataclass(frozen=True)
class OptimizerOptions:
    """``optimizer``: a name of :data:`~MedSegTrain.training.optim.OPTIMIZERS` and its settings."""

    name: str
    lr: float
    weight_decay: float
    momentum: float
    nesterov: bool
    betas: tuple[float, ...]
    lookahead: bool
    lookahead_k: int
    lookahead_alpha: float


@dataclass(frozen=True)
class ScheduleOptions:
    """``schedule``: a name of :data:`~MedSegTrain.training.schedules.SCHEDULES` and its shape."""

    name: str
    start_fraction: float
    min_lr: float
    power: float
    warmup_steps: int


@dataclass(frozen=True)
class SwaOptions:
    """``swa``: SWA with restarts after training (B7)."""

    enabled: bool
    cycles: int
    cycle_epochs: int
    snapshot_every: int
    lr_factor: float


@dataclass(frozen=True)
class TrainingOptions:
    """``training``: length, precision, seeds, clipping, validation cadence and threads."""

    epochs: int
    iterations_per_epoch: int
    amp: str
    seed: int | None
    grad_clip: float | None
    val_every: int
    restore_best: bool
    best_metric: str
    early_stopping: int | None
    time_budget_minutes: float | None
    prefetch: int
    threads: int | None
    channels_last: bool


@dataclass(frozen=True)
class ValidationOptions:
    """``validation``: sliding-window overlap, cases and batch of validation, held-out scoring."""

    overlap: float
    max_cases: int | None
    batch_size: int
    evaluate_test: bool


@dataclass(frozen=True)
class TransferOptions:
    """``transfer``: initialisation from a bundle (T5)."""

    init_bundle: str | None
    freeze_encoder: bool


@dataclass(frozen=True)
class FilteringOptions:
    """``filtering``: flagging cases with an outlier final loss (B9)."""

    enabled: bool
    z_threshold: float
    retrain: bool


@dataclass(frozen=True)
class RecipeOptions:
    """A whole validated config, section by section."""

    name: str
    description: str
    papers: tuple[str, ...]
    seed: int
    data: DataOptions
    statistics: StatisticsOptions
    split: SplitOptions
    network: NetworkOptions
    preprocessing: Mapping[str, Any]
    patch: PatchOptions
    output: OutputOptions
    loss: LossOptions
    augmentation: Mapping[str, Any] | None
    mixup: MixupOptions
    optimizer: OptimizerOptions
    schedule: ScheduleOptions
    swa: SwaOptions
    training: TrainingOptions
    validation: ValidationOptions
    transfer: TransferOptions
    filtering: FilteringOptions

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RecipeOptions:
        """The typed view of ``config``, a dict :func:`~MedSegTrain.training.config.validate` returned."""
        return _build(cls, config, "")

    @property
    def split_seed(self) -> int:
        """The seed of the split: ``split.seed``, else ``seed`` (X3)."""
        return self.seed if self.split.seed is None else self.split.seed

    @property
    def training_seed(self) -> int:
        """The seed of weights and every training random stream: ``training.seed``, else ``seed``."""
        return self.seed if self.training.seed is None else self.training.seed


def _build(cls: type[T], node: Mapping[str, Any], prefix: str) -> T:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    if not isinstance(node, Mapping) or set(node) != set(names):
        keys = sorted(node) if isinstance(node, Mapping) else node
        raise MedSegError(f"config section '{prefix.rstrip('.') or '<top>'}' has keys {keys}, expected "
                          f"{sorted(names)}: build options from a validated config")
    values = {}
    for name in names:
        kind = hints[name]
        if dataclasses.is_dataclass(kind):
            values[name] = _build(kind, node[name], f"{prefix}{name}.")
        else:
            values[name] = _freeze(node[name])
    return cls(**values)


def _freeze(value: Any) -> Any:
    """Lists as tuples, mappings read-only, all the way down (the config dict is left as it is)."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value
