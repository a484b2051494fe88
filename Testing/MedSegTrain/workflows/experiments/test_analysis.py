"""Experiment statistics on hand-built per-case tables, against scipy (X3, X4, L2)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as scipy_stats

from MedSegTrain.errors import MedSegError
from MedSegTrain.workflows.experiments import analysis

CASES = ["c1", "c2", "c3", "c4", "c5", "c6"]


def _rows(arms: dict[str, float], folds=(0, 1), seeds=(0, 1), seed: int = 3) -> list[dict]:
    """Two labels per case; arm effects added to a per-case difficulty, so arms pair by case."""
    rng = np.random.default_rng(seed)
    difficulty = {(f, s, c): rng.uniform(0.55, 0.9) for f, s, c in itertools.product(folds, seeds, CASES)}
    rows = []
    for arm, effect in arms.items():
        for (fold, s, case), base in difficulty.items():
            for label in ("1", "2"):
                rows.append({"trial": f"{arm}-f{fold}-s{s}", "arm": arm, "fold": fold, "seed": s,
                             "case": case, "label": label, "dice": base + effect + rng.normal(0, 0.01)})
    return rows


def _by_hand(rows, arm, design="paired_case"):
    """The units of an arm computed directly: mean over labels, then (paired_fold) over cases."""
    cells: dict[tuple, list[float]] = {}
    for r in rows:
        if r["arm"] == arm:
            cells.setdefault((r["fold"], r["seed"], r["case"]), []).append(r["dice"])
    case_means = {k: np.mean(v) for k, v in sorted(cells.items())}
    if design != "paired_fold":
        return np.array(list(case_means.values()))
    folds: dict[tuple, list[float]] = {}
    for k, v in case_means.items():
        folds.setdefault(k[:2], []).append(v)
    return np.array([np.mean(v) for _, v in sorted(folds.items())])


def test_independent_design_is_mann_whitney_with_holm_and_the_rank_sum_matrix():
    rows = _rows({"a": 0.0, "b": 0.03, "c": -0.01})
    spec = {"statistics": {"design": "independent", "reference": "a", "metric": "dice"}}
    result = analysis.analyse(rows, spec, arm_order=["a", "b", "c"])
    a, b, c = (_by_hand(rows, arm) for arm in "abc")
    expected = [scipy_stats.mannwhitneyu(x, a).pvalue for x in (b, c)]
    assert [cmp.result.p_value for cmp in result.comparisons] == pytest.approx(expected)
    m = 2
    order = np.argsort(expected)
    holm = np.empty(2)
    holm[order[0]] = min(1, m * expected[order[0]])
    holm[order[1]] = max(holm[order[0]], min(1, expected[order[1]]))
    assert [cmp.p_adjusted for cmp in result.comparisons] == pytest.approx(holm)
    assert result.arms[1].mean == pytest.approx(b.mean())
    assert result.arms[1].sd == pytest.approx(b.std(ddof=1))
    ci = scipy_stats.bootstrap((b,), np.mean, method="BCa", n_resamples=9999,
                               rng=np.random.default_rng(analysis.BOOTSTRAP_SEED)).confidence_interval
    assert (result.arms[1].ci_low, result.arms[1].ci_high) == pytest.approx((ci.low, ci.high))
    assert result.friedman is None
    assert result.pairwise.test == "ranksum"
    assert result.pairwise.raw[0, 1] == pytest.approx(scipy_stats.ranksums(a, b).pvalue)


def test_paired_case_design_is_wilcoxon_and_friedman():
    rows = _rows({"a": 0.0, "b": 0.02, "c": -0.004})
    spec = {"statistics": {"design": "paired_case", "reference": "a"}}
    result = analysis.analyse(rows, spec, arm_order=["a", "b", "c"])
    a, b, c = (_by_hand(rows, arm) for arm in "abc")
    assert result.comparisons[0].result.p_value == pytest.approx(scipy_stats.wilcoxon(b, a).pvalue)
    assert result.comparisons[1].result.p_value == pytest.approx(scipy_stats.wilcoxon(c, a).pvalue)
    friedman = scipy_stats.friedmanchisquare(a, b, c)
    assert result.friedman.statistic == pytest.approx(friedman.statistic)
    assert result.friedman.p_value == pytest.approx(friedman.pvalue)
    assert result.pairwise.test == "wilcoxon"
    assert result.pairwise.raw[1, 2] == pytest.approx(scipy_stats.wilcoxon(b, c).pvalue)


def test_paired_fold_design_pairs_the_fold_means():
    rows = _rows({"a": 0.0, "b": 0.02}, folds=(0, 1, 2), seeds=(0, 1, 2))
    result = analysis.analyse(rows, {"statistics": {"design": "paired_fold", "reference": "a"}})
    a, b = _by_hand(rows, "a", "paired_fold"), _by_hand(rows, "b", "paired_fold")
    assert result.arms[0].n == a.size == 9
    assert result.comparisons[0].result.p_value == pytest.approx(scipy_stats.wilcoxon(b, a).pvalue)
    seed_means = [b[i::3].mean() for i in range(3)]  # keys sorted by (fold, seed)
    assert result.arms[1].seed_sd == pytest.approx(np.std(seed_means, ddof=1))


def test_non_finite_values_are_left_out_and_a_bad_design_is_refused():
    rows = _rows({"a": 0.0, "b": 0.02})
    rows[0]["dice"] = float("nan")
    rows[1]["dice"] = None
    units = analysis.units(rows, "dice", "independent")
    assert len(units["a"]) == 24 - 1  # both labels of the first case missing
    with pytest.raises(MedSegError, match=r"statistics\.design"):
        analysis.units(rows, "dice", "crossed")
    with pytest.raises(MedSegError, match="no column 'nsd'"):
        analysis.units(rows, "nsd", "independent")


def test_arms_with_too_few_units_are_noted_not_tested_and_claims_on_them_are_inconclusive():
    rows = _rows({"a": 0.0, "b": 0.02}, folds=(0,), seeds=(0,))
    rows = [r for r in rows if r["arm"] == "a" or r["case"] == "c1"]
    spec = {"statistics": {"design": "independent", "reference": "a"},
            "published": [{"claim": "b beats a", "arm": "b", "versus": "a", "direction": "greater"},
                          {"claim": "z beats a", "arm": "z", "versus": "a", "direction": "greater"}]}
    result = analysis.analyse(rows, spec)
    assert result.comparisons == [] and "fewer than two units in b" in result.notes[0]
    assert [v.verdict for v in analysis.judge_claims(rows, spec)] == [analysis.INCONCLUSIVE] * 2


@pytest.mark.parametrize(("direction", "difference", "p", "paper", "expected"), [
    ("greater", 0.03, 0.01, None, analysis.CONFIRMED),
    ("less", -0.03, 0.01, 0.5, analysis.CONFIRMED),
    ("greater", -0.03, 0.01, None, analysis.NOT_CONFIRMED),
    ("greater", 0.004, 0.4, 0.05, analysis.NOT_CONFIRMED),  # the paper's +0.05 is outside [-0.01, 0.02]
    ("greater", 0.004, 0.4, 0.01, analysis.INCONCLUSIVE),
    ("greater", 0.004, 0.4, None, analysis.INCONCLUSIVE),
])
def test_verdict_rule(direction, difference, p, paper, expected):
    from MedSegTrain.stats import TestResult

    result = TestResult("wilcoxon", 1.0, p, 10, 10, difference, 0.0)
    comparison = analysis.Comparison("b", "a", result, p, -0.01, 0.02)
    assert analysis.verdict_of(direction, comparison, paper)[0] == expected
