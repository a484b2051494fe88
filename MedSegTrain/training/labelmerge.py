"""Sub-labels merged into one before training (T1: central gland + peripheral zone -> prostate).

``data.merge_labels`` is ``'all'`` (every foreground label into one, named after the labels it
joins) or ``{name: [label values]}``. The merged label takes the smallest of its values; the
dataset the run sees then lists the merged labels, so the output channels, the bundle's labels,
validation and the held-out test all use them, and reference masks are merged the same way.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from MedSegTrain.errors import MedSegError


def merge_plan(labels: dict[str, int], setting: Any) -> tuple[dict[str, int], dict[int, int]]:
    """``(merged labels name -> value, mapping old value -> new value)`` for ``data.merge_labels``."""
    if setting is None:
        return dict(labels), {}
    by_value = {int(v): n for n, v in labels.items()}
    groups = {"+".join(by_value[v] for v in sorted(by_value) if v > 0): [v for v in by_value if v > 0]} \
        if setting == "all" else {str(k): [int(v) for v in vs] for k, vs in setting.items()}
    mapping: dict[int, int] = {}
    for name, values in groups.items():
        unknown = sorted(set(values) - set(by_value))
        if unknown:
            raise MedSegError(f"training config: data.merge_labels '{name}': value(s) {unknown} are not "
                              f"labels of the dataset ({', '.join(f'{n}={v}' for n, v in labels.items())})")
        for value in values:
            if value in mapping:
                raise MedSegError(f"training config: data.merge_labels: label value {value} is in two groups")
            mapping[value] = min(values)
    merged = {n: v for n, v in labels.items() if int(v) not in mapping}
    merged.update({name: min(values) for name, values in groups.items()})
    return dict(sorted(merged.items(), key=lambda item: item[1])), mapping


def merged_dataset(dataset: Any, setting: Any) -> tuple[Any, dict[int, int]]:
    """``dataset`` listing the merged labels (no regions: they name the old values), and the mapping."""
    labels, mapping = merge_plan(dict(dataset.labels), setting)
    if not mapping:
        return dataset, mapping
    if dataset.regions:
        raise MedSegError("training config: data.merge_labels cannot be combined with the dataset's regions")
    return dataclasses.replace(dataset, labels=labels), mapping
