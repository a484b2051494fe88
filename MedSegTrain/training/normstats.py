"""Dataset-level z-score statistics of one fold (T6, C2), computed on its training cases only.

``statistics.source``: ``per_volume`` keeps the spec (each volume's own statistics);
``training_set`` (T6) pools every training case of the fold, ``random_sample`` (C2) a random
``sample_fraction`` of them. The result is a ``fixed-zscore`` spec whose mean and sd go into the
fold's bundle, so inference standardises new images with exactly these numbers. Validation and
test cases never contribute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from MedSegTrain.errors import MedSegError

ZSCORES = ("zscore", "zscore-nonzero")


def check_statistics(config: Mapping[str, Any]) -> None:
    """Dataset statistics replace a z-score: any other normalisation is a contradiction."""
    source = config["statistics"]["source"]
    normalization = config["preprocessing"].get("normalization", "zscore")
    if source != "per_volume" and normalization not in ZSCORES:
        raise MedSegError(
            f"training config: statistics.source {source} standardises with dataset statistics, "
            f"but preprocessing.normalization is {normalization!r} (use zscore or zscore-nonzero)"
        )


def fold_spec(spec: Any, statistics: Mapping[str, Any], cases: Sequence[Any], seed: int) -> Any:
    """``spec``, switched to ``fixed-zscore`` with the statistics of ``cases`` unless per volume."""
    source = statistics["source"]
    if source == "per_volume":
        return spec
    from MedSegTrain.data import load_case
    from MedSegTrain.preprocessing.statistics import with_dataset_zscore

    loaders = [lambda case=case: load_case(case).channels for case in cases]
    size = None
    if source == "random_sample":
        size = max(1, round(float(statistics["sample_fraction"]) * len(cases)))
    nonzero = bool(statistics["nonzero"]) or spec.normalization == "zscore-nonzero"
    return with_dataset_zscore(spec, loaders, size, np.random.default_rng(seed), nonzero)
