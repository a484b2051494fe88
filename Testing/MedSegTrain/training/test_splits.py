"""Patient-level splits (T4, X3, C7): no patient on two sides, folds cover everything, C7 order."""

from __future__ import annotations

import numpy as np
import pytest

from MedSegTrain.errors import MedSegError
from MedSegTrain.training.splits import Split, fixed_split, kfold_split, robustness_split, select_folds

CASES = [f"p{p:02d}_scan{s}" for p in range(20) for s in range(1 + p % 3)]  # 1-3 scans per patient
PATIENT = {c: c.split("_")[0] for c in CASES}


def _patients(cases: tuple[str, ...]) -> set[str]:
    return {PATIENT[c] for c in cases}


def test_kfold_keeps_patients_together_and_holds_out_test() -> None:
    split = kfold_split(CASES, 5, 0.2, np.random.default_rng(3), PATIENT)
    assert len(_patients(split.test)) == 4  # 20 % of 20 patients
    validated = []
    for fold in split.folds:
        assert not _patients(fold.train) & _patients(fold.val)
        assert not _patients(fold.train) & _patients(split.test)
        assert not _patients(fold.val) & _patients(split.test)
        assert set(fold.train) | set(fold.val) | set(split.test) == set(CASES)
        validated += fold.val
    assert sorted(validated) == sorted(set(CASES) - set(split.test))  # each case validated exactly once


def test_kfold_is_reproducible_and_seed_dependent() -> None:
    a = kfold_split(CASES, 5, 0.2, np.random.default_rng(0), PATIENT)
    b = kfold_split(CASES, 5, 0.2, np.random.default_rng(0), PATIENT)
    c = kfold_split(CASES, 5, 0.2, np.random.default_rng(1), PATIENT)
    assert a == b and a != c
    assert Split.from_dict(a.to_dict()) == a


def test_fixed_split_is_half_of_patients() -> None:
    split = fixed_split(CASES, 0.5, np.random.default_rng(0), PATIENT)
    (fold,) = split.folds
    assert len(_patients(fold.train)) == 10 and len(_patients(fold.val)) == 10
    assert not _patients(fold.train) & _patients(fold.val)


def test_robustness_split_orders_by_slice_count() -> None:
    slices = {f"c{i}": n for i, n in enumerate([40, 12, 90, 33, 64, 25, 80, 51, 18, 70])}
    split = robustness_split(list(slices), 5, slices)
    assert [sorted(slices[c] for c in f.val) for f in split.folds] == [
        [12, 18],
        [25, 33],
        [40, 51],
        [64, 70],
        [80, 90],
    ]
    for fold in split.folds:  # validation slice counts never occur in training
        assert not {slices[c] for c in fold.val} & {slices[c] for c in fold.train}


def test_select_folds_range() -> None:
    split = kfold_split(CASES, 3, 0.0, np.random.default_rng(0))
    assert [f.index for f in select_folds(split, "all")] == [0, 1, 2]
    assert [f.index for f in select_folds(split, [2])] == [2]
    with pytest.raises(MedSegError, match=r"--fold 3: out of range; this split has folds 0..2"):
        select_folds(split, [3])


def test_too_few_patients_is_a_clear_error() -> None:
    with pytest.raises(MedSegError, match=r"split\.n_folds = 5 but only 3 patients remain"):
        kfold_split(["a", "b", "c", "d"], 5, 0.2, np.random.default_rng(0))
