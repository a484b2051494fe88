"""Per-label and per-region metrics of label maps (BraTS WT/TC/ET from labels: B4, B10; L2).

A *label* compares the voxels equal to one value; a *region* compares the union of several
values (regions may overlap, e.g. BraTS WT = {1, 2, 3}, TC = {1, 3}, ET = {3} for NCR 1, ED 2,
ET 3). Each label or region is evaluated on its own bounding box only, found for every value in
one pass with ``scipy.ndimage.find_objects``, so 100+ labels on a CT cost little more than one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import ndimage

from MedSegTrain import limits
from MedSegTrain.errors import MedSegError
from MedSegTrain.metrics.binary import check_tolerance, metrics_in_box
from MedSegTrain.metrics.masks import check_spacing

Box = tuple[slice, ...]


def compute_label_metrics(
    pred_labels: np.ndarray,
    ref_labels: np.ndarray,
    labels: Mapping[str, int] | None = None,
    regions: Mapping[str, Sequence[int]] | None = None,
    spacing: float | Sequence[float] | None = None,
    nsd_tolerance: float | None = None,
) -> dict[str, dict[str, float]]:
    """Metrics for each label and region: ``{name: compute_metrics-style dict}``.

    ``labels`` maps names to values; value 0 (background) is skipped. None means every non-zero
    value present in either map, named by its number. ``regions`` maps names to lists of values.
    ``spacing`` is in array order ``(z, y, x)``; ``nsd_tolerance`` (mm) adds ``nsd``. Each result
    also holds ``volume_pred_ml`` and ``volume_ref_ml``. Raises MedSegError on non-integer maps,
    shape mismatch or bad names.
    """
    pred = as_label_map(pred_labels, "prediction")
    ref = as_label_map(ref_labels, "reference")
    if pred.shape != ref.shape:
        raise MedSegError(f"prediction shape {pred.shape} differs from reference shape {ref.shape}")
    if pred.ndim not in (2, 3):
        raise MedSegError(f"label maps must be 2D or 3D arrays, got {pred.ndim} dimensions")
    spacing_vec = check_spacing(spacing, pred.ndim)
    tolerance = check_tolerance(nsd_tolerance)
    if labels is None:
        present = np.union1d(_values_present(pred), _values_present(ref))
        limits.check("labels", len(present), "the label maps (distinct values)")
        labels = {str(int(value)): int(value) for value in present if value != 0}
    targets = {name: _values(f"label {name!r}", [value]) for name, value in labels.items() if value != 0}
    for name, values in (regions or {}).items():
        if name in targets:
            raise MedSegError(f"region name {name!r} is also a label name")
        targets[name] = _values(f"region {name!r}", values)
    pred_boxes, ref_boxes = _boxes_by_value(pred), _boxes_by_value(ref)
    voxel_ml = float(np.prod(spacing_vec)) / 1000.0
    results = {}
    for name, values in targets.items():
        box = _union([pred_boxes.get(v) for v in values] + [ref_boxes.get(v) for v in values])
        crop = box if box is not None else tuple(slice(0, 0) for _ in range(pred.ndim))
        pred_mask = np.isin(pred[crop], values)
        ref_mask = np.isin(ref[crop], values)
        metrics = metrics_in_box(pred_mask, ref_mask, spacing_vec, total=pred.size, nsd_tolerance=tolerance)
        metrics["volume_pred_ml"] = float(np.count_nonzero(pred_mask)) * voxel_ml
        metrics["volume_ref_ml"] = float(np.count_nonzero(ref_mask)) * voxel_ml
        results[name] = metrics
    return results


def _values(what: str, values: Sequence[int]) -> list[int]:
    """Label values as ints; MedSegError unless they are non-negative whole numbers."""
    try:
        valid = bool(values) and all(
            not isinstance(v, bool) and float(v).is_integer() and v >= 0 for v in values
        )
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise MedSegError(f"{what}: label values must be non-negative integers, got {list(values)}")
    return [int(v) for v in values]


def as_label_map(array: np.ndarray, name: str) -> np.ndarray:
    """``array`` as a non-negative integer label map (integral floats are accepted and converted)."""
    array = np.asarray(array)
    if array.dtype == bool:
        return array.astype(np.uint8)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.array_equal(array, np.round(array)):
            raise MedSegError(f"{name}: not a label map (it holds non-integer values)")
        array = array.astype(np.int64)
    elif array.dtype.kind not in "iu":
        raise MedSegError(f"{name}: not a label map (dtype {array.dtype})")
    if array.size and array.min() < 0:
        raise MedSegError(f"{name}: label maps must not hold negative values")
    return array


def _values_present(labels: np.ndarray) -> np.ndarray:
    """Distinct values: bincount for the usual small labels, unique for large ones (a bincount up to
    a value of 2**31 would allocate gigabytes)."""
    if not labels.size:
        return np.zeros(0, int)
    if int(labels.max()) < 65536:
        return np.flatnonzero(np.bincount(labels.ravel()))
    return np.unique(labels)


def _boxes_by_value(labels: np.ndarray) -> dict[int, Box]:
    """Bounding box of every non-zero value: one pass for the usual small labels; per present value
    for large ones (``find_objects`` keeps a slot for every value up to the largest)."""
    if labels.size and int(labels.max()) >= 65536:
        boxes = {}
        for value in _values_present(labels):
            if value:
                found = ndimage.find_objects((labels == value).astype(np.uint8))[0]
                boxes[int(value)] = found
        return boxes
    return {index + 1: box for index, box in enumerate(ndimage.find_objects(labels)) if box is not None}


def _union(boxes: Sequence[Box | None]) -> Box | None:
    present = [box for box in boxes if box is not None]
    if not present:
        return None
    return tuple(
        slice(min(b[axis].start for b in present), max(b[axis].stop for b in present))
        for axis in range(len(present[0]))
    )


def parse_labels(text: str) -> dict[str, int]:
    """``"1,2"`` or ``"kidney=1,tumour=2"`` -> ``{name: value}`` (plain values are named by number)."""
    result: dict[str, int] = {}
    for item in _items(text, "labels"):
        name, _, value = item.rpartition("=")
        try:
            number = int(value)
        except ValueError:
            raise MedSegError(f"labels: {item!r} is not VALUE or NAME=VALUE with an integer VALUE") from None
        if number <= 0:
            raise MedSegError(f"labels: {item!r} must have a positive value (0 is background)")
        key = name.strip() or str(number)
        if key in result:
            raise MedSegError(f"labels: the name {key!r} is given twice")
        if number in result.values():
            raise MedSegError(f"labels: the value {number} is given twice (as {_name_of(result, number)!r} "
                              f"and {key!r}); each label needs its own value")
        result[key] = number
    return result


def _name_of(labels: dict[str, int], value: int) -> str:
    return next(name for name, number in labels.items() if number == value)


def parse_regions(text: str) -> dict[str, list[int]]:
    """``"WT=1+2+3,TC=1+3,ET=3"`` -> ``{"WT": [1, 2, 3], "TC": [1, 3], "ET": [3]}``."""
    result: dict[str, list[int]] = {}
    for item in _items(text, "regions"):
        name, sep, values = item.partition("=")
        try:
            numbers = [int(v) for v in values.split("+")]
        except ValueError:
            numbers = []
        if not sep or not name.strip() or not numbers or min(numbers) <= 0:
            raise MedSegError(f"regions: {item!r} is not NAME=V1+V2+... with positive integer values")
        result[name.strip()] = numbers
    return result


def _items(text: str, option: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise MedSegError(f"{option}: empty list")
    return items
