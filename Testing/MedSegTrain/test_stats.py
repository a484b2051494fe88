"""MedSegTrain.stats (X3, X4, L2): hand-computed ranks and corrections, scipy as the reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from MedSegTrain import stats
from MedSegTrain.errors import MedSegError


def test_wilcoxon_signed_rank_by_hand():
    # d = a - b = -0.1, 0.5, 1, 1, 1.5; ranks of |d| = 1, 2, 3.5, 3.5, 5 -> R- = 1, R+ = 14.
    # statistic = min(R+, R-) = 1; exact two-sided p for n=5 with ties -> scipy's value.
    # rank-biserial = (14 - 1) / 15; mean difference 0.78; Cohen's d = 0.78 / sd(d).
    a = [1, 2, 3, 4, 5.5]
    b = [1.1, 1.5, 2, 3, 4]
    result = stats.wilcoxon_signed_rank(a, b)
    assert result.statistic == 1.0
    assert result.p_value == pytest.approx(scipy_stats.wilcoxon(a, b).pvalue)
    assert result.rank_biserial == pytest.approx(13 / 15)
    assert result.mean_difference == pytest.approx(0.78)
    # deviations from 0.78: -0.88, -0.28, 0.22, 0.22, 0.72; squares sum to 1.468; sample sd sqrt(1.468 / 4)
    assert result.cohens_d == pytest.approx(0.78 / math.sqrt(0.367))
    assert stats.cohens_d_paired(a, b) == pytest.approx(0.78 / math.sqrt(0.367))


def test_wilcoxon_exact_p_for_all_positive_differences():
    # 6 pairs, all differences positive and distinct: R- = 0; exact two-sided p = 2 / 2^6.
    a = np.arange(6) + np.array([1, 2, 3, 4, 5, 6]) * 0.1
    result = stats.wilcoxon_signed_rank(a, np.arange(6))
    assert result.statistic == 0.0
    assert result.p_value == pytest.approx(2 / 64)
    assert result.rank_biserial == 1.0


def test_wilcoxon_identical_samples_give_p_one():
    assert stats.wilcoxon_signed_rank([1, 2, 3], [1, 2, 3]).p_value == 1.0


def test_mann_whitney_u_by_hand():
    # a = 1, 2, 3 vs b = 4, 5: no a exceeds any b -> U_a = 0; exact two-sided p = 2 / C(5,2) = 0.2.
    result = stats.mann_whitney_u([1, 2, 3], [4, 5])
    assert result.statistic == 0.0
    assert result.p_value == pytest.approx(0.2)
    assert result.rank_biserial == -1.0


def test_rank_sum_is_the_normal_approximation():
    # rank sum of a = 1+2+3 = 6; expected n_a(n+1)/2 = 9; var = n_a n_b (n+1)/12 = 3
    # z = (6 - 9) / sqrt(3)
    result = stats.rank_sum([1, 2, 3], [4, 5])
    assert result.statistic == pytest.approx(-3 / math.sqrt(3))
    assert result.p_value == pytest.approx(2 * scipy_stats.norm.sf(3 / math.sqrt(3)))


def test_holm_bonferroni_by_hand():
    """Unsorted input, no ties among the results. Kills: values returned in sorted order, scaled by
    (j + 1) instead of (m - j), no running maximum, no cap at 1 (``stats-holm-sorted-order``,
    ``stats-holm-scale``)."""
    # sorted 0.001 (#1), 0.012 (#3), 0.04 (#0), 0.3 (#2) scaled by 4, 3, 2, 1: 0.004, 0.036, 0.08, 0.3
    np.testing.assert_allclose(stats.holm_bonferroni([0.04, 0.001, 0.3, 0.012]), [0.08, 0.004, 0.3, 0.036])
    # sorted 0.01, 0.03, 0.04, 0.5 scaled by 4, 3, 2, 1: 0.04, 0.09, 0.08 -> 0.09 (monotone), 0.5
    np.testing.assert_allclose(stats.holm_bonferroni([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5])
    np.testing.assert_allclose(stats.holm_bonferroni([0.6, 0.7]), [1.0, 1.0])
    with pytest.raises(MedSegError, match="p-values"):
        stats.holm_bonferroni([0.1, 1.5])


def _holm_step_down(p: list[float]) -> list[float]:
    """Holm (1979) as a loop over the sorted p-values: an independent reference for the pairwise test."""
    ranked = sorted(range(len(p)), key=lambda i: p[i])
    adjusted, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(ranked):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def test_pairwise_matrix_is_symmetric_and_holm_corrected():
    groups = {"dice": [0.8, 0.82, 0.85, 0.79, 0.9], "focal": [0.7, 0.72, 0.71, 0.69, 0.75],
              "tversky": [0.81, 0.83, 0.8, 0.84, 0.86]}
    matrix = stats.pairwise_tests(groups, test="ranksum")
    raw_01 = scipy_stats.ranksums(groups["dice"], groups["focal"]).pvalue
    raw_02 = scipy_stats.ranksums(groups["dice"], groups["tversky"]).pvalue
    raw_12 = scipy_stats.ranksums(groups["focal"], groups["tversky"]).pvalue
    assert matrix.raw[0, 1] == matrix.raw[1, 0] == pytest.approx(raw_01)
    got = [matrix.adjusted[0, 1], matrix.adjusted[0, 2], matrix.adjusted[1, 2]]
    np.testing.assert_allclose(got, _holm_step_down([raw_01, raw_02, raw_12]))
    assert matrix.adjusted[2, 1] == matrix.adjusted[1, 2]
    assert np.isnan(np.diag(matrix.adjusted)).all()
    assert matrix.to_dict()["names"] == ["dice", "focal", "tversky"]
    paired = stats.pairwise_tests(groups, test="wilcoxon", correction="none")
    assert paired.raw[0, 2] == pytest.approx(scipy_stats.wilcoxon(groups["dice"], groups["tversky"]).pvalue)


def test_bootstrap_ci_brackets_the_mean_and_matches_scipy():
    rng_values = np.random.default_rng(1).normal(10, 2, 40)
    low, high = stats.bootstrap_ci(rng_values, rng=np.random.default_rng(3))
    expected = scipy_stats.bootstrap((rng_values,), np.mean, method="BCa", rng=np.random.default_rng(3))
    assert (low, high) == pytest.approx(
        (expected.confidence_interval.low, expected.confidence_interval.high)
    )
    assert low < rng_values.mean() < high
    assert stats.bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: stats.wilcoxon_signed_rank([1, 2], [1, 2, 3]), "equal sample sizes"),
        (lambda: stats.wilcoxon_signed_rank([1, np.nan], [1, 2]), "NaN"),
        (lambda: stats.mann_whitney_u([1, 2], [3], alternative="bigger"), "alternative"),
        (lambda: stats.mann_whitney_u([], [3]), "at least"),
        (lambda: stats.pairwise_tests({"a": [1, 2]}), "two methods"),
        (lambda: stats.pairwise_tests({"a": [1, 2], "b": [2, 3]}, test="t"), "test must be"),
        (lambda: stats.bootstrap_ci(["x", "y"]), "numbers"),
    ],
)
def test_bad_input_raises_clear_errors(call, message):
    with pytest.raises(MedSegError, match=message):
        call()


# non-tied, asymmetric scores of three paired methods on seven blocks
_A = [0.812, 0.774, 0.903, 0.655, 0.841, 0.702, 0.869]
_B = [0.795, 0.781, 0.874, 0.611, 0.829, 0.688, 0.851]
_C = [0.731, 0.702, 0.884, 0.598, 0.760, 0.645, 0.822]


def test_friedman_matches_scipy_and_gives_kendalls_w():
    result = stats.friedman({"a": _A, "b": _B, "c": _C})
    expected = scipy_stats.friedmanchisquare(_A, _B, _C)
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert (result.n, result.k) == (7, 3)
    assert result.kendalls_w == pytest.approx(expected.statistic / (7 * 2))
    with pytest.raises(MedSegError, match="at least three"):
        stats.friedman({"a": _A, "b": _B})
    with pytest.raises(MedSegError, match="one value per block"):
        stats.friedman({"a": _A, "b": _B, "c": _C[:-1]})


def test_bootstrap_difference_ci_matches_scipy_paired_and_independent():
    rng_seed = 11
    paired = stats.bootstrap_difference_ci(_A, _C, paired=True, rng=np.random.default_rng(rng_seed))
    diff = np.subtract(_A, _C)
    expected = scipy_stats.bootstrap((diff,), np.mean, method="BCa", n_resamples=9999,
                                     rng=np.random.default_rng(rng_seed)).confidence_interval
    assert paired == pytest.approx((expected.low, expected.high))
    independent = stats.bootstrap_difference_ci(_A, _C[:5], paired=False, rng=np.random.default_rng(rng_seed))
    expected = scipy_stats.bootstrap(
        (np.array(_A), np.array(_C[:5])), lambda p, q, axis: p.mean(axis=axis) - q.mean(axis=axis),
        method="BCa", n_resamples=9999, rng=np.random.default_rng(rng_seed)).confidence_interval
    assert independent == pytest.approx((expected.low, expected.high))
    assert independent[0] < np.mean(_A) - np.mean(_C[:5]) < independent[1]


def test_mann_whitney_rank_biserial_is_cliffs_delta():
    a, b = _A, _C[:5]
    delta = np.mean([np.sign(x - y) for x in a for y in b])
    assert stats.mann_whitney_u(a, b).rank_biserial == pytest.approx(delta)


def test_seed_spread_is_the_sd_of_the_seed_means():
    spread = stats.seed_spread({0: [0.8, 0.7], 1: [0.9, 0.85, 0.8], 2: [0.6]})
    means = [0.75, 0.85, 0.6]
    assert spread["n_seeds"] == 3
    assert spread["sd_of_seed_means"] == pytest.approx(np.std(means, ddof=1))
    assert spread["range_of_seed_means"] == pytest.approx(0.25)
    assert math.isnan(stats.seed_spread({0: [0.5]})["sd_of_seed_means"])


def test_mann_whitney_gives_the_pooled_cohens_d():
    # a: mean 2, var 1 (n 3); b: mean 4.5, var 0.5 (n 2); pooled var = (2 * 1 + 1 * 0.5) / 3
    result = stats.mann_whitney_u([1, 2, 3], [4, 5])
    assert result.cohens_d == pytest.approx(-2.5 / math.sqrt(2.5 / 3))
    assert math.isnan(stats.mann_whitney_u([1, 2, 3], [4]).cohens_d)
