"""The training config: one validated, nested dict (YAML/JSON recipe + ``--set a.b=value`` overrides).

Why one dict instead of trainer subclasses: every knob of every paper's recipe is a named key,
recipes compose by overriding keys, and the exact dict travels into the bundle's ``model.json``.
Validation names the offending key, says what is wrong and suggests the nearest valid key.
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import parse_json, read_config_text
from MedSegTrain.training.optim import OPTIMIZERS
from MedSegTrain.training.schedules import SCHEDULES

RECIPE_DIR = Path(__file__).resolve().parent / "recipes"
OPEN = "<open>"  # a dict whose content is passed through verbatim (network args, loss params ...)


@dataclass(frozen=True)
class Field:
    """One config key: its default, the accepted kinds and the constraints on its value."""

    default: Any
    kinds: tuple[type, ...]
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    nullable: bool = False
    check: Callable[[Any], str | None] | None = None
    help: str = ""


def _int_list(n: tuple[int, ...] | None = None) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if not isinstance(value, list) or not all(isinstance(v, int) and v > 0 for v in value):
            return "must be a list of positive integers"
        if n is not None and len(value) not in n:
            return f"must have {' or '.join(map(str, n))} entries"
        return None

    return check


def _num_list(value: Any) -> str | None:
    if not isinstance(value, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
    ):
        return "must be a list of finite numbers"
    return None


def _regions(value: Any) -> str | None:
    if value == "dataset":
        return None
    if isinstance(value, dict) and value and all(
        isinstance(v, list) and v and all(isinstance(i, int) and not isinstance(i, bool) for i in v)
        for v in value.values()
    ):
        return None
    return "must be 'dataset' or a mapping {region name: [label values]}"


def _rebuild_steps(value: Any) -> str | None:
    for step in value:
        well_formed = isinstance(step, dict) and set(step) == {"region", "label"}
        if not well_formed or not isinstance(step["label"], int):
            return "must be a list of {region: name, label: value} steps"
    return None


def _merge_labels(value: Any) -> str | None:
    if value == "all":
        return None
    if isinstance(value, dict) and value and all(
        isinstance(k, str) and isinstance(v, list) and v
        and all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in v)
        for k, v in value.items()
    ):
        return None
    return "must be 'all' or a mapping {merged label name: [label values > 0]}"


def _folds(value: Any) -> str | None:
    if value == "all" or (isinstance(value, list) and all(isinstance(v, int) and v >= 0 for v in value)):
        return None
    return "must be 'all' or a list of fold indices"


NUM = (int, float)
SCHEMA: dict[str, Any] = {
    "name": Field("custom", (str,), help="recipe name, stored in the bundle"),
    "description": Field("", (str,)),
    "papers": Field([], (list,), help="capability IDs this recipe reproduces (PAPERS.md)"),
    "seed": Field(0, (int,), low=0, help="seeds the split and training unless split.seed/training.seed"),
    "data": {
        "merge_labels": Field(
            None,
            (str, dict),
            nullable=True,
            check=_merge_labels,
            help="merge sub-labels into one (T1: CG + PZ): 'all' (every foreground label) or "
            "{name: [label values]}; the merged label takes the smallest value",
        ),
    },
    "statistics": {
        "source": Field(
            "per_volume",
            (str,),
            choices=("per_volume", "training_set", "random_sample"),
            help="z-score statistics: each volume's own (X6, L4), the fold's training cases' (T6) "
            "or a random sample of them (C2); stored in the bundle so inference replays them",
        ),
        "sample_fraction": Field(
            0.25, NUM, low=0.01, high=1.0, help="random_sample: share of the training cases drawn (C2)"
        ),
        "nonzero": Field(False, (bool,), help="statistics of the non-zero voxels only"),
    },
    "split": {
        "seed": Field(None, (int,), low=0, nullable=True, help="seed of the split (X3); null: seed"),
        "kind": Field(
            "kfold",
            (str,),
            choices=("kfold", "fixed", "robustness"),
            help="kfold (T4), fixed 50/50 (X3), robustness by slice count/thickness (C7)",
        ),
        "n_folds": Field(5, (int,), low=1, high=100),
        "test_fraction": Field(0.2, NUM, low=0.0, high=0.9, help="patient-level held-out test share (T4)"),
        "train_fraction": Field(0.5, NUM, low=0.05, high=0.95, help="train share of the fixed split (X3)"),
        "robustness_key": Field("slices", (str,), choices=("slices", "thickness")),
        "folds": Field("all", (str, list), check=_folds, help="which folds to train: 'all' or [k, ...]"),
    },
    "network": {
        "name": Field("unet", (str,)),
        "args": Field({}, (dict,), help=OPEN),
        "encoder_weights": Field(
            None,
            (str,),
            nullable=True,
            help="local file of pretrained encoder weights (T3: ImageNet; nothing is downloaded); "
            "network.args.encoder_weights is moved here",
        ),
    },
    "preprocessing": Field({}, (dict,), help=OPEN + " PreprocessingSpec.to_dict() fields"),
    "patch": {
        "mode": Field("3d", (str,), choices=("3d", "2d")),
        "size": Field(
            [64, 64, 64], (list,), check=_int_list((2, 3)), help="array order (z, y, x); 2D: (y, x)"
        ),
        "batch_size": Field(2, (int,), low=1, high=4096),
        "foreground_fraction": Field(
            0.33, NUM, low=0.0, high=1.0, help="share of patches centred on a foreground voxel"
        ),
        "slice_min_foreground": Field(
            None,
            (int,),
            low=0,
            nullable=True,
            help="2d: draw only slices whose (merged) label has more foreground pixels than this (T1: 200)",
        ),
        "slice_sampling": {
            "n_slices": Field(
                None,
                (int,),
                low=1,
                nullable=True,
                help="3d: each sample is this many randomly chosen slices of a volume, in order, drawn "
                "anew every time (C3: 16); null: contiguous patches",
            ),
            "exclude_background": Field(True, (bool,), help="draw only slices with foreground (C3)"),
        },
    },
    "output": {
        "activation": Field(
            "softmax",
            (str,),
            choices=("softmax", "sigmoid"),
            help="softmax: one exclusive class per voxel; sigmoid: independent binary channels (B4)",
        ),
        "regions": Field(
            None,
            (str, dict),
            nullable=True,
            check=_regions,
            help="sigmoid region channels: 'dataset' (dataset.json regions) or {name: [label values]}",
        ),
        "region_rebuild": Field(
            None,
            (list,),
            nullable=True,
            check=_rebuild_steps,
            help="painting order [{region, label}, ...] that turns regions into labels (B8); "
            "null: derived from the nesting",
        ),
    },
    "loss": {
        "name": Field("dice_ce", (str,), help="a get_loss name, or dice_ce = dice + ce"),
        "params": Field({}, (dict,), help=OPEN),
        "deep_supervision": Field(False, (bool,)),
        "deep_supervision_weights": Field(None, (list,), nullable=True, check=_num_list),
    },
    "augmentation": Field({}, (dict,), nullable=True, help=OPEN + " build_augmentation config"),
    "mixup": {
        "alpha": Field(0.0, NUM, low=0.0, help="Beta(alpha, alpha); 0 = off (X1)"),
        "per_sample": Field(False, (bool,)),
    },
    "optimizer": {
        "name": Field("adam", (str,), choices=tuple(OPTIMIZERS)),
        "lr": Field(1e-3, NUM, low=0.0, high=10.0),
        "weight_decay": Field(0.0, NUM, low=0.0),
        "momentum": Field(0.99, NUM, low=0.0, high=1.0),
        "nesterov": Field(True, (bool,)),
        "betas": Field([0.9, 0.999], (list,), check=_num_list),
        "lookahead": Field(False, (bool,), help="wrap in Lookahead (X8); ranger implies it"),
        "lookahead_k": Field(6, (int,), low=1),
        "lookahead_alpha": Field(0.5, NUM, low=0.0, high=1.0),
    },
    "schedule": {
        "name": Field("poly", (str,), choices=tuple(SCHEDULES)),
        "start_fraction": Field(0.5, NUM, low=0.0, high=1.0, help="cosine_after: decay starts here (B7)"),
        "min_lr": Field(0.0, NUM, low=0.0, help="floor of the decay (L6: 1e-6)"),
        "power": Field(0.9, NUM, low=0.0),
        "warmup_steps": Field(0, (int,), low=0),
    },
    "swa": {
        "enabled": Field(False, (bool,), help="SWA with restarts after training (B7)"),
        "cycles": Field(5, (int,), low=1),
        "cycle_epochs": Field(30, (int,), low=1),
        "snapshot_every": Field(3, (int,), low=1),
        "lr_factor": Field(0.5, NUM, low=0.0, high=10.0),
    },
    "training": {
        "epochs": Field(100, (int,), low=1),
        "iterations_per_epoch": Field(250, (int,), low=1),
        "amp": Field(
            "auto",
            (str,),
            choices=("auto", "none", "fp16", "bf16", "fp16_cuda"),
            help="auto: bf16 on CUDA, float32 on CPU; fp16_cuda: fp16 on CUDA, float32 on CPU (B7)",
        ),
        "seed": Field(
            None,
            (int,),
            low=0,
            nullable=True,
            help="seed of weights, sampling, augmentation, dropout, mixup (X3: N initialisations on "
            "one split); null: seed",
        ),
        "grad_clip": Field(12.0, NUM, low=0.0, nullable=True),
        "val_every": Field(1, (int,), low=1),
        "restore_best": Field(True, (bool,), help="bundle keeps the best validation weights (X8, L6)"),
        "best_metric": Field("dice", (str,), choices=("dice", "loss")),
        "early_stopping": Field(None, (int,), low=1, nullable=True, help="validations without gain"),
        "time_budget_minutes": Field(None, NUM, low=0.0, nullable=True),
        "prefetch": Field(4, (int,), low=0, high=64, help="batches prepared ahead by a background thread"),
        "threads": Field(None, (int,), low=1, nullable=True, help="torch CPU threads (None: all)"),
        "channels_last": Field(False, (bool,)),
    },
    "validation": {
        "overlap": Field(0.5, NUM, low=0.0, high=0.95),
        "max_cases": Field(None, (int,), low=1, nullable=True),
        "batch_size": Field(4, (int,), low=1),
        "evaluate_test": Field(True, (bool,), help="score the folds' ensemble on the held-out test cases"),
    },
    "transfer": {
        "init_bundle": Field(None, (str,), nullable=True, help="initialise from this bundle (T5)"),
        "freeze_encoder": Field(False, (bool,)),
    },
    "filtering": {
        "enabled": Field(False, (bool,), help="flag cases with an outlier final loss (B9)"),
        "z_threshold": Field(3.0, NUM, low=0.0),
        "retrain": Field(False, (bool,)),
    },
}


def defaults() -> dict[str, Any]:
    """The full config with every default."""

    def build(node: Mapping[str, Any]) -> dict[str, Any]:
        return {k: build(v) if isinstance(v, dict) else copy.deepcopy(v.default) for k, v in node.items()}

    return build(SCHEMA)


def _suggest(key: str, options: list[str]) -> str:
    close = difflib.get_close_matches(key, options, n=1)
    return f" (did you mean '{close[0]}'?)" if close else f" (valid: {', '.join(sorted(options))})"


def merge(base: dict[str, Any], update: Mapping[str, Any], source: str, _prefix: str = "") -> dict[str, Any]:
    """``base`` updated by ``update`` (nested; open dicts key by key); unknown keys raise."""
    schema = _schema_at(_prefix)
    out = copy.deepcopy(base)
    for key, value in update.items():
        path = f"{_prefix}{key}"
        if not isinstance(schema, dict) or key not in schema:
            options = list(schema) if isinstance(schema, dict) else []
            raise MedSegError(f"{source}: unknown config key '{path}'{_suggest(str(key), options)}")
        if isinstance(schema[key], dict):
            if not isinstance(value, Mapping):
                raise MedSegError(f"{source}: config key '{path}' must be a mapping, got {value!r}")
            out[key] = merge(out[key], value, source, f"{path}.")
        elif isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **copy.deepcopy(dict(value))}  # open dicts: key by key
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply(planned: dict[str, Any], given: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``planned`` updated by ``given`` (a recipe or overrides), its planned parts kept consistent.

    A different network takes only the ``args`` given with it (the plan's U-Net kernels would not
    fit it), a different loss only the ``params`` given with it; a changed ``patch.mode`` without
    a ``patch.size`` takes the plan's in-plane size (rounded to a multiple of 32, as deep 2D
    networks need) or a 3D patch.
    """
    merged = merge(planned, given, source)
    network, patch = dict(given.get("network") or {}), dict(given.get("patch") or {})
    if "name" in network and network["name"] != planned["network"]["name"]:
        merged["network"]["args"] = copy.deepcopy(dict(network.get("args") or {}))
    loss = dict(given.get("loss") or {})
    if "name" in loss and loss["name"] != planned["loss"]["name"]:  # the old loss's options do not fit
        merged["loss"]["params"] = copy.deepcopy(dict(loss.get("params") or {}))
    if "mode" in patch and patch["mode"] != planned["patch"]["mode"] and "size" not in patch:
        size = planned["patch"]["size"]
        if patch["mode"] == "2d":
            merged["patch"]["size"] = [max(32, -(-int(s) // 32) * 32) for s in size[-2:]]
        else:
            merged["patch"]["size"] = [16, *size[-2:]]
    return merged


MODE_SECTION = "by_mode"


def take_mode_sections(raw: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """Remove a recipe's ``by_mode: {2d: {...}, 3d: {...}}`` and return it, its keys checked.

    A section holds config keys that apply only when the run's resolved ``patch.mode`` is that
    mode (C4: a paper whose 2D and 3D arms differ in batch size and augmentation rates), so one
    recipe covers both arms and ``--set patch.mode=2d`` switches between them.
    """
    sections = raw.pop(MODE_SECTION, None) or {}
    if not isinstance(sections, Mapping) or set(sections) - {"2d", "3d"}:
        raise MedSegError(f"{source}: '{MODE_SECTION}' must map '2d' and/or '3d' to config keys, "
                          f"got {sections!r}")
    for mode, section in sections.items():
        if not isinstance(section, Mapping):
            raise MedSegError(f"{source}: '{MODE_SECTION}.{mode}' must be a mapping of config keys")
        merge(defaults(), section, f"{source} {MODE_SECTION}.{mode}")  # unknown keys raise here
    return {str(mode): dict(section) for mode, section in sections.items()}


def fit_unet_layout(config: dict[str, Any]) -> dict[str, Any]:
    """Re-plan the ``unet`` kernels and strides when they were planned for the other dimensionality.

    The data plan lays the U-Net out for its own 2D/3D choice; a recipe or ``--set`` that changes
    ``patch.mode`` would otherwise hand 3D kernels to a 2D network. The new layout comes from
    ``plan_unet`` on the final patch, with ``preprocessing.target_spacing`` when it is set (in-plane
    spacing taken as isotropic otherwise).
    """
    network = config["network"]
    kernels = network["args"].get("kernel_size")
    dims = 2 if config["patch"]["mode"] == "2d" else 3
    if network["name"] != "unet" or not kernels or not isinstance(kernels[0], list):
        return config
    if len(kernels[0]) == dims:
        return config
    from MedSegTrain.networks import plan_unet

    spacing_xyz = (config.get("preprocessing") or {}).get("target_spacing")
    spacing = [float(s) for s in spacing_xyz[::-1]][-dims:] if spacing_xyz else None
    out = copy.deepcopy(config)
    out["network"]["args"].update(plan_unet([int(s) for s in config["patch"]["size"]][-dims:], spacing))
    return out


def _schema_at(prefix: str) -> Any:
    node: Any = SCHEMA
    for part in filter(None, prefix.split(".")):
        node = node[part]
    return node


def validate(config: Mapping[str, Any], source: str = "config") -> dict[str, Any]:
    """Check every value against :data:`SCHEMA`; returns a copy with ints promoted where floats fit."""
    config = merge(defaults(), config, source)

    def walk(node: dict[str, Any], schema: dict[str, Any], prefix: str) -> None:
        for key, field in schema.items():
            path = f"{prefix}{key}"
            if isinstance(field, dict):
                walk(node[key], field, f"{path}.")
                continue
            node[key] = _check_value(node[key], field, path, source)

    walk(config, SCHEMA, "")
    mode, size = config["patch"]["mode"], config["patch"]["size"]
    if len(size) != (3 if mode == "3d" else 2) and not (mode == "2d" and len(size) == 3 and size[0] == 1):
        raise MedSegError(
            f"{source}: patch.size {size} does not fit patch.mode '{mode}' (3d: [z, y, x]; 2d: [y, x])"
        )
    return config


def _check_value(value: Any, field: Field, path: str, source: str) -> Any:
    if value is None:
        if field.nullable:
            return None
        raise MedSegError(f"{source}: config key '{path}' may not be empty (null)")
    if isinstance(value, bool) and bool not in field.kinds:
        raise MedSegError(f"{source}: config key '{path}' must be {_kind_names(field)}, got {value!r}")
    if not isinstance(value, field.kinds):
        raise MedSegError(f"{source}: config key '{path}' must be {_kind_names(field)}, got {value!r}")
    if field.kinds == NUM:
        value = float(value)
        if not math.isfinite(value):
            raise MedSegError(f"{source}: config key '{path}' must be a finite number, got {value!r}")
    if field.choices is not None and value not in field.choices:
        raise MedSegError(
            f"{source}: config key '{path}' is {value!r}; choose one of {', '.join(map(str, field.choices))}"
        )
    if field.low is not None and value < field.low:
        raise MedSegError(f"{source}: config key '{path}' is {value}; it must be >= {field.low}")
    if field.high is not None and value > field.high:
        raise MedSegError(f"{source}: config key '{path}' is {value}; it must be <= {field.high}")
    if field.check is not None:
        problem = field.check(value)
        if problem:
            raise MedSegError(f"{source}: config key '{path}' {problem}, got {value!r}")
    return value


def _kind_names(field: Field) -> str:
    return "a number" if field.kinds == NUM else " or ".join(k.__name__ for k in field.kinds)


def split_seed(config: Mapping[str, Any]) -> int:
    """The seed of the split: ``split.seed``, else ``seed`` (X3 fixes the split, varies the rest)."""
    value = config["split"]["seed"]
    return int(config["seed"] if value is None else value)


def list_recipes() -> list[str]:
    """Names of the recipes that ship with the project."""
    return sorted([*(p.stem for p in RECIPE_DIR.glob("*.yaml")), "auto"])


def read_recipe(recipe: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """A recipe as a raw (unvalidated) dict: a shipped name, a YAML/JSON file, or a dict."""
    if isinstance(recipe, Mapping):
        return dict(copy.deepcopy(recipe))
    text_name = str(recipe)
    path = Path(text_name)
    if not path.suffix and (RECIPE_DIR / f"{text_name}.yaml").is_file():
        path = RECIPE_DIR / f"{text_name}.yaml"
    elif not path.is_file():
        raise MedSegError(
            f"--recipe '{text_name}': no such recipe file or name "
            f"(shipped recipes: {', '.join(list_recipes())})"
        )
    return _read_file(path)


def _read_file(path: Path) -> dict[str, Any]:
    text = read_config_text(path, "recipe file")
    try:
        if path.suffix.lower() == ".json":
            data = parse_json(text, f"recipe file {path}")
        else:
            import yaml

            data = yaml.safe_load(text)
    except MedSegError:
        raise
    except RecursionError:
        raise MedSegError(f"recipe file {path}: nested too deeply to be read") from None
    except Exception as exc:  # yaml raises several kinds
        raise MedSegError(
            f"recipe file {path}: not valid {path.suffix.lstrip('.').upper() or 'YAML'}: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MedSegError(f"recipe file {path}: the top level must be a mapping of config keys")
    data.setdefault("name", path.stem)
    return data


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["optimizer.lr=3e-4", "mixup.alpha=0.5"]`` -> nested dict; values parse as YAML scalars/lists."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise MedSegError(f"--set '{item}': expected KEY=VALUE, e.g. optimizer.lr=3e-4")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        if isinstance(value, str) and _looks_float(value):
            value = float(value)
        set_path(out, key, value)
    return out


def _looks_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def set_path(target: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``target[a][b] = value`` for ``dotted = "a.b"``, creating dicts on the way."""
    parts = dotted.split(".")
    node = target
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise MedSegError(f"--set '{dotted}': '{part}' is not a section")
    node[parts[-1]] = value
