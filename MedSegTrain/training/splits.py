"""Patient-level data splits: k-fold with a held-out test set (T4), fixed 50/50 (X3), robustness (C7).

Every split works on *patients*: cases that share a patient id always land on the same side, so
no patient is ever in training and in validation/test at once. Splits are a pure function of the
case list and a ``numpy.random.Generator``, so separate ``--fold k`` jobs agree on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from MedSegTrain.errors import MedSegError


@dataclass(frozen=True)
class Fold:
    """One training run: the cases it trains on and the cases it validates on."""

    index: int
    train: tuple[str, ...]
    val: tuple[str, ...]


@dataclass(frozen=True)
class Split:
    """All folds of a split plus the held-out test cases no fold ever sees."""

    kind: str
    folds: tuple[Fold, ...]
    test: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "test": list(self.test),
            "folds": [{"index": f.index, "train": list(f.train), "val": list(f.val)} for f in self.folds],
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Split:
        folds = tuple(Fold(int(f["index"]), tuple(f["train"]), tuple(f["val"])) for f in data["folds"])
        return cls(str(data["kind"]), folds, tuple(data["test"]))


def _patients(case_ids: Sequence[str], patient_of: Mapping[str, str] | None) -> dict[str, list[str]]:
    if len(set(case_ids)) != len(case_ids):
        raise MedSegError("dataset: case ids are not unique, cannot split by case")
    groups: dict[str, list[str]] = {}
    for case in case_ids:
        groups.setdefault((patient_of or {}).get(case, case), []).append(case)
    return groups


def _cases(groups: Mapping[str, list[str]], patients: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(c for p in patients for c in groups[p]))


def kfold_split(
    case_ids: Sequence[str],
    n_folds: int,
    test_fraction: float,
    rng: np.random.Generator,
    patient_of: Mapping[str, str] | None = None,
) -> Split:
    """Shuffle patients, hold out ``test_fraction`` of them, deal the rest into ``n_folds`` folds (T4)."""
    groups = _patients(case_ids, patient_of)
    patients = sorted(groups)
    rng.shuffle(patients)
    n_test = round(test_fraction * len(patients))
    test, rest = patients[:n_test], patients[n_test:]
    if n_folds < 2:
        if len(rest) < 2:
            raise MedSegError(f"split: {len(rest)} training patient(s) is too few for a validation set")
        cut = max(1, round(0.2 * len(rest)))
        return Split(
            "kfold", (Fold(0, _cases(groups, rest[cut:]), _cases(groups, rest[:cut])),), _cases(groups, test)
        )
    if len(rest) < n_folds:
        raise MedSegError(
            f"split.n_folds = {n_folds} but only {len(rest)} patients remain after the "
            f"{test_fraction:.0%} test hold-out; lower split.n_folds or split.test_fraction"
        )
    chunks = np.array_split(np.arange(len(rest)), n_folds)
    folds = []
    for k, chunk in enumerate(chunks):
        val = [rest[i] for i in chunk]
        train = [p for p in rest if p not in set(val)]
        folds.append(Fold(k, _cases(groups, train), _cases(groups, val)))
    return Split("kfold", tuple(folds), _cases(groups, test))


def fixed_split(
    case_ids: Sequence[str],
    train_fraction: float,
    rng: np.random.Generator,
    patient_of: Mapping[str, str] | None = None,
) -> Split:
    """One fold: a random ``train_fraction`` of patients trains, the rest validates (X3: 50/50)."""
    groups = _patients(case_ids, patient_of)
    patients = sorted(groups)
    if len(patients) < 2:
        raise MedSegError("split: the fixed split needs at least 2 patients")
    rng.shuffle(patients)
    n_train = min(max(1, round(train_fraction * len(patients))), len(patients) - 1)
    return Split(
        "fixed", (Fold(0, _cases(groups, patients[:n_train]), _cases(groups, patients[n_train:])),), ()
    )


def robustness_split(
    case_ids: Sequence[str],
    n_folds: int,
    sort_key: Mapping[str, float],
    patient_of: Mapping[str, str] | None = None,
) -> Split:
    """Folds are contiguous runs of patients ordered by ``sort_key`` (slice count or thickness, C7).

    Validation volumes of a fold therefore have slice counts the training volumes do not, which
    is the point of the paper's robustness cross-validation. Ties break by case id (deterministic).
    """
    groups = _patients(case_ids, patient_of)
    missing = [c for c in case_ids if c not in sort_key]
    if missing:
        raise MedSegError(f"split: no slice information for case(s) {', '.join(missing[:5])}")
    if len(groups) < max(n_folds, 2):
        raise MedSegError(f"split.n_folds = {n_folds} but the dataset has only {len(groups)} patients")
    order = sorted(groups, key=lambda p: (float(np.mean([sort_key[c] for c in groups[p]])), p))
    folds = []
    for k, chunk in enumerate(np.array_split(np.arange(len(order)), max(n_folds, 2))):
        val = {order[i] for i in chunk}
        folds.append(Fold(k, _cases(groups, [p for p in order if p not in val]), _cases(groups, sorted(val))))
    return Split("robustness", tuple(folds), ())


def select_folds(split: Split, wanted: str | Sequence[int]) -> list[Fold]:
    """The folds named by ``split.folds`` / ``--fold`` (``'all'`` or indices), checked against the split."""
    if wanted == "all":
        return list(split.folds)
    chosen = []
    for k in wanted:
        if not 0 <= int(k) < len(split.folds):
            raise MedSegError(f"--fold {k}: out of range; this split has folds 0..{len(split.folds) - 1}")
        chosen.append(split.folds[int(k)])
    return chosen
