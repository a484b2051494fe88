"""Experiment specs: one YAML file per paper study, read and checked whole before anything runs.

A spec names a base recipe, overrides for every trial, the factors to vary (a recipe key with
values, or named arms of several keys), the folds, seeds, budget, metrics, statistics and the
paper's own numbers it is compared with (``docs/experiments.md``). Factors with
``stage: inference`` (keys under ``inference.``) vary how the trained folds are applied, so they
do not train again. Every problem is a :class:`MedSegError` naming the spec file and the field.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from MedSegTrain.errors import MedSegError

SPEC_DIR = Path(__file__).resolve().parent / "specs"
TOP_KEYS = {"name", "title", "capabilities", "recipe", "overrides", "factors", "folds", "seeds", "budget",
            "metrics", "nsd_tolerance", "statistics", "published", "description", "dataset"}
INFERENCE_KEYS = {"inference.tta": (int,), "inference.ensemble": (str,)}
ENSEMBLES = ("single", "folds", "stacked")
DESIGNS = ("independent", "paired_case", "paired_fold")
DIRECTIONS = ("greater", "less")


def list_specs() -> list[str]:
    """Names of the specs that ship with the project."""
    return sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))


def spec_path(name_or_path: str | Path) -> Path:
    """The file of a shipped spec name, or ``name_or_path`` itself when it is a file."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    if not path.suffix and (SPEC_DIR / f"{path.name}.yaml").is_file():
        return SPEC_DIR / f"{path.name}.yaml"
    raise MedSegError(f"spec '{name_or_path}': no such spec file or name "
                      f"(shipped: {', '.join(list_specs())})")


def load_spec(name_or_path: str | Path) -> dict[str, Any]:
    """The validated spec (defaults filled in) of a shipped name or a YAML file."""
    import yaml

    from MedSegTrain.fileutil import read_config_text

    path = spec_path(name_or_path)
    text = read_config_text(path, "spec file")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MedSegError(f"spec file {path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    return validate_spec(raw, str(path))


def validate_spec(raw: Any, where: str) -> dict[str, Any]:
    """``raw`` checked field by field; ``where`` (the file) starts every message."""
    def fail(field: str, problem: str) -> MedSegError:
        return MedSegError(f"spec file {where}: field '{field}' {problem}")

    if not isinstance(raw, Mapping):
        raise MedSegError(f"spec file {where}: the top level must be a mapping of spec fields")
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise fail(unknown[0], f"is not a spec field (valid: {', '.join(sorted(TOP_KEYS))})")
    spec = copy.deepcopy(dict(raw))
    for key in ("name", "recipe"):
        if not isinstance(spec.get(key), str) or not spec[key]:
            raise fail(key, f"must be a non-empty string, got {spec.get(key)!r}")
    spec.setdefault("title", spec["name"])
    spec.setdefault("description", "")
    spec.setdefault("dataset", None)
    _strings(spec.setdefault("capabilities", []), "capabilities", fail)
    spec["overrides"] = _overrides(spec.get("overrides") or {}, "overrides", fail)
    spec["factors"] = _factors(spec.get("factors"), fail)
    spec["folds"] = _folds(spec.get("folds", 5), fail)
    spec["seeds"] = _ints(spec.get("seeds", [0]), "seeds", fail)
    spec["budget"] = _budget(spec.get("budget") or {}, fail)
    spec["metrics"] = _metrics(spec.get("metrics", ["dice"]), fail)
    spec["nsd_tolerance"] = _nsd_tolerance(spec.get("nsd_tolerance"), spec["metrics"], fail)
    spec["statistics"] = _statistics(spec.get("statistics") or {}, spec, fail)
    spec["published"] = _published(spec.get("published") or [], spec, fail)
    _check_recipe_keys(spec, where)
    return spec


def _strings(value: Any, field: str, fail: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(field, f"must be a list of strings, got {value!r}")


def _ints(value: Any, field: str, fail: Any) -> list[int]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)):
        raise fail(field, f"must be a non-empty list of whole numbers >= 0, got {value!r}")
    if len(set(value)) != len(value):
        raise fail(field, f"lists a value twice: {value!r}")
    return list(value)


def _folds(value: Any, fail: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise fail("folds", f"must be >= 1, got {value}")
        return list(range(value))
    return _ints(value, "folds", fail)


def _overrides(value: Any, field: str, fail: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and k for k in value):
        raise fail(field, f"must be a mapping of dotted recipe keys to values, got {value!r}")
    return dict(value)


def _is_inference(key: str) -> bool:
    return key.startswith("inference.")


def _factors(value: Any, fail: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise fail("factors", f"must be a non-empty list of factors, got {value!r}")
    out, names = [], set()
    for i, raw in enumerate(value):
        field = f"factors[{i}]"
        if not isinstance(raw, Mapping):
            raise fail(field, f"must be a mapping with 'key' and 'values', or 'arms', got {raw!r}")
        extra = sorted(set(raw) - {"name", "key", "values", "arms", "stage"})
        if extra:
            raise fail(f"{field}.{extra[0]}", "is not a factor field (valid: name, key, values, arms, stage)")
        if ("arms" in raw) == ("key" in raw):
            raise fail(field, "must give either 'key' with 'values' or 'arms', not both or neither")
        factor = _key_factor(raw, field, fail) if "key" in raw else _arms_factor(raw, field, fail)
        stage = raw.get("stage", "inference" if all(map(_is_inference, factor["keys"])) else "train")
        if stage not in ("train", "inference"):
            raise fail(f"{field}.stage", f"must be 'train' or 'inference', got {stage!r}")
        mixed = [k for k in factor["keys"] if _is_inference(k) != (stage == "inference")]
        if mixed:
            raise fail(field, f"key '{mixed[0]}' does not fit stage '{stage}' "
                              "(inference factors set only inference.* keys, training factors none)")
        factor["stage"] = stage
        if factor["name"] in names:
            raise fail(f"{field}.name", f"repeats the factor name '{factor['name']}'")
        names.add(factor["name"])
        out.append(factor)
    return out


def _key_factor(raw: Mapping[str, Any], field: str, fail: Any) -> dict[str, Any]:
    key = raw["key"]
    if not isinstance(key, str) or not key:
        raise fail(f"{field}.key", f"must be a dotted recipe key, got {key!r}")
    values = raw.get("values")
    if not isinstance(values, list) or not values:
        raise fail(f"{field}.values", f"must be a non-empty list, got {values!r}")
    name = raw.get("name", key.rsplit(".", 1)[-1])
    if not isinstance(name, str) or not name:
        raise fail(f"{field}.name", f"must be a non-empty string, got {name!r}")
    arms = {f"{name}={_text(v)}": {key: v} for v in values}
    if len(arms) != len(values):
        raise fail(f"{field}.values", f"lists a value twice: {values!r}")
    return {"name": name, "key": key, "values": list(values), "arms": arms, "keys": [key]}


def _arms_factor(raw: Mapping[str, Any], field: str, fail: Any) -> dict[str, Any]:
    arms = raw["arms"]
    if not isinstance(arms, Mapping) or not arms:
        raise fail(f"{field}.arms", f"must be a mapping of arm names to recipe keys, got {arms!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise fail(f"{field}.name", f"must be a non-empty string (arms need a factor name), got {name!r}")
    checked = {}
    for arm, keys in arms.items():
        if not isinstance(arm, str) or not arm or ", " in arm:
            raise fail(f"{field}.arms", f"arm name {arm!r} must be a non-empty string without ', '")
        checked[arm] = _overrides(keys or {}, f"{field}.arms.{arm}", fail)
    keys = sorted({k for v in checked.values() for k in v})
    return {"name": name, "arms": checked, "keys": keys}


def _text(value: Any) -> str:
    """A factor value as it appears in an arm label (YAML-like: ``0.2``, ``true``, ``dice``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _budget(value: Any, fail: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or len(value) > 1 or not set(value) <= {"minutes", "epochs"}:
        raise fail("budget", f"must be {{minutes: M}} or {{epochs: N}} (or empty), got {value!r}")
    for key, number in value.items():
        kinds = (int,) if key == "epochs" else (int, float)
        if isinstance(number, bool) or not isinstance(number, kinds) or number <= 0:
            raise fail(f"budget.{key}", f"must be a positive {'whole ' if key == 'epochs' else ''}number, "
                                        f"got {number!r}")
    return dict(value)


def known_metrics() -> list[str]:
    """The per-case metric names :mod:`MedSegTrain.metrics.evaluate` produces."""
    import numpy as np

    from MedSegTrain.metrics.evaluate import evaluate_masks

    mask = np.ones((2, 2, 2), np.uint8)
    return [k for k in evaluate_masks(mask, mask, nsd_tolerance=1.0) if not k.startswith("volume_")]


def _nsd_tolerance(value: Any, metrics: list[str], fail: Any) -> float | None:
    """The NSD tolerance in mm: required when ``nsd`` is among the metrics (no default fits every
    task), refused otherwise so a spec never states a tolerance that nothing uses."""
    if value is None:
        if "nsd" in metrics:
            raise fail("nsd_tolerance", "is needed for the metric 'nsd' (a distance in mm)")
        return None
    if "nsd" not in metrics:
        raise fail("nsd_tolerance", "is given but 'nsd' is not among the metrics")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise fail("nsd_tolerance", f"must be a positive distance in mm, got {value!r}")
    return float(value)


def _metrics(value: Any, fail: Any) -> list[str]:
    _strings(value, "metrics", fail)
    if not value:
        raise fail("metrics", "must name at least one metric")
    known = known_metrics()
    unknown = [m for m in value if m not in known]
    if unknown:
        raise fail("metrics", f"names '{unknown[0]}', which the evaluation module does not produce "
                              f"(it gives: {', '.join(known)})")
    return list(value)


def arm_labels(factors: list[dict[str, Any]]) -> list[str]:
    """Every arm label of the grid, factors in order, labels joined with ``", "``."""
    labels = [""]
    for factor in factors:
        labels = [f"{left}, {arm}" if left else arm for left in labels for arm in factor["arms"]]
    return labels


def _check_arm(label: Any, spec: Mapping[str, Any], field: str, fail: Any) -> None:
    labels = arm_labels(spec["factors"])
    if label not in labels:
        raise fail(field, f"names arm {label!r}, which the factors do not give (arms: {', '.join(labels)})")


def _statistics(value: Any, spec: Mapping[str, Any], fail: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise fail("statistics", f"must be a mapping, got {value!r}")
    extra = sorted(set(value) - {"design", "reference", "correction", "metric"})
    if extra:
        raise fail(f"statistics.{extra[0]}", "is not a statistics field (valid: design, reference, "
                                             "correction, metric)")
    out = {"design": "paired_case", "reference": arm_labels(spec["factors"])[0], "correction": "holm",
           "metric": spec["metrics"][0], **value}
    if out["design"] not in DESIGNS:
        raise fail("statistics.design", f"must be one of {', '.join(DESIGNS)}, got {out['design']!r}")
    _check_arm(out["reference"], spec, "statistics.reference", fail)
    if out["metric"] not in spec["metrics"]:
        raise fail("statistics.metric", f"must be one of the spec's metrics {spec['metrics']}, "
                                        f"got {out['metric']!r}")
    if not isinstance(out["correction"], str):
        raise fail("statistics.correction", f"must be a string, got {out['correction']!r}")
    return out


def _published(value: Any, spec: Mapping[str, Any], fail: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise fail("published", f"must be a list of claims, got {value!r}")
    out = []
    for i, claim in enumerate(value):
        field = f"published[{i}]"
        if not isinstance(claim, Mapping):
            raise fail(field, f"must be a mapping, got {claim!r}")
        for key in ("claim", "source"):
            if not isinstance(claim.get(key), str) or not claim[key]:
                raise fail(f"{field}.{key}", f"must be a non-empty string, got {claim.get(key)!r}")
        claim = {"metric": spec["statistics"]["metric"], "direction": "greater", "paper": {}, **claim}
        if claim["metric"] not in spec["metrics"]:
            raise fail(f"{field}.metric", f"must be one of the spec's metrics {spec['metrics']}")
        for key in ("arm", "versus"):
            if key in claim:
                _check_arm(claim[key], spec, f"{field}.{key}", fail)
        if claim["direction"] not in DIRECTIONS:
            raise fail(f"{field}.direction", f"must be 'greater' or 'less', got {claim['direction']!r}")
        if not isinstance(claim["paper"], Mapping) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in claim["paper"].values()):
            raise fail(f"{field}.paper", f"must map arm/versus to numbers, got {claim['paper']!r}")
        out.append(claim)
    return out


def _check_recipe_keys(spec: Mapping[str, Any], where: str) -> None:
    """Every override and factor key is a recipe key of the right type (inference keys their own)."""
    from MedSegTrain.training import config as cfgmod

    def check(keys: Mapping[str, Any], field: str) -> None:
        nested: dict[str, Any] = {}
        for key, value in keys.items():
            if _is_inference(key):
                _check_inference(key, value, f"spec file {where}: field '{field}'")
                continue
            cfgmod.set_path(nested, key, value)
        try:
            cfgmod.validate(nested, f"spec file {where}: field '{field}'")
        except MedSegError as exc:
            if "patch.size" in str(exc) and "patch" not in nested:
                return  # a combination only the recipe's own patch settings complete
            raise

    check(spec["overrides"], "overrides")
    for i, factor in enumerate(spec["factors"]):
        for arm, keys in factor["arms"].items():
            check(keys, f"factors[{i}] arm {arm!r}")


def _check_inference(key: str, value: Any, where: str) -> None:
    if key not in INFERENCE_KEYS:
        raise MedSegError(f"{where}: unknown inference key '{key}' (valid: {', '.join(INFERENCE_KEYS)})")
    if isinstance(value, bool) or not isinstance(value, INFERENCE_KEYS[key]):
        raise MedSegError(f"{where}: inference key '{key}' has the wrong type: {value!r}")
    if key == "inference.tta" and not 0 <= value <= 16:
        raise MedSegError(f"{where}: inference.tta must be 0..16, got {value}")
    if key == "inference.ensemble" and value not in ENSEMBLES:
        raise MedSegError(f"{where}: inference.ensemble must be one of {', '.join(ENSEMBLES)}, got {value!r}")
