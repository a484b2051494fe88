"""Statistical comparison of methods: thin, tested wrappers over ``scipy.stats`` (X3, X4, X10, L2).

* :func:`wilcoxon_signed_rank` — paired cases (X4: mixup vs no mixup on the same folds), with the
  mean pairwise difference, the matched-pairs rank-biserial correlation and the paired Cohen's d.
* :func:`mann_whitney_u` — independent samples (X3: alpha sweep vs no mixup) with the
  rank-biserial correlation; :func:`rank_sum` — the Wilcoxon rank-sum test (normal approximation).
* :func:`holm_bonferroni` — step-down adjusted p-values; :func:`pairwise_tests` — the k x k
  p-value matrix of the loss paper's Table 2, Holm-corrected over the k(k-1)/2 pairs.
* :func:`friedman` — more than two paired methods (Friedman chi-square, Kendall's W); its post-hoc
  is :func:`pairwise_tests` with ``test="wilcoxon"`` (Holm over the pairs).
* :func:`bootstrap_ci` — a BCa bootstrap confidence interval (``scipy.stats.bootstrap``);
  :func:`bootstrap_difference_ci` — of mean(a) - mean(b), paired or independent.
* :func:`seed_spread` — how much a method's score moves with the seed (sd of the per-seed means).

Effect sizes: the rank-biserial correlation of :func:`mann_whitney_u` is Cliff's delta
(P(a > b) - P(a < b)); paired tests also give the matched-pairs rank-biserial and Cohen's d.

Inputs are sequences of finite numbers; NaN/inf raise MedSegError (decide their treatment first,
see ``MedSegTrain.metrics.aggregate``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as scipy_stats

from MedSegTrain.errors import MedSegError

ALTERNATIVES = ("two-sided", "less", "greater")
PAIRWISE_TESTS = ("ranksum", "mannwhitney", "wilcoxon")


@dataclass(frozen=True)
class TestResult:
    """One two-sample test: statistic, p-value, sizes and effect sizes (difference is a - b)."""

    test: str
    statistic: float
    p_value: float
    n_a: int
    n_b: int
    mean_difference: float
    rank_biserial: float
    cohens_d: float = math.nan

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def wilcoxon_signed_rank(
    a: Sequence[float], b: Sequence[float], alternative: str = "two-sided"
) -> TestResult:
    """Paired Wilcoxon signed-rank test of a vs b (zero differences dropped, scipy's default).

    ``rank_biserial`` = (R+ - R-) / (R+ + R-) over the ranks of |a - b|; ``cohens_d`` = mean(d) / sd(d).
    All differences zero gives p = 1.
    """
    x, y = _finite(a, "a"), _finite(b, "b")
    if x.size != y.size:
        raise MedSegError(f"paired test needs equal sample sizes, got {x.size} and {y.size}")
    _check_alternative(alternative)
    _at_least(x, 2, "a")
    diff = x - y
    sd = float(diff.std(ddof=1))
    d = float(diff.mean()) / sd if sd > 0 else math.nan
    nonzero = diff[diff != 0]
    if nonzero.size == 0:
        return TestResult("wilcoxon", 0.0, 1.0, x.size, y.size, 0.0, 0.0, d)
    result = scipy_stats.wilcoxon(x, y, alternative=alternative)
    ranks = scipy_stats.rankdata(np.abs(nonzero))
    r_plus, r_minus = ranks[nonzero > 0].sum(), ranks[nonzero < 0].sum()
    return TestResult(
        "wilcoxon", float(result.statistic), float(result.pvalue), x.size, y.size,
        float(diff.mean()), float((r_plus - r_minus) / (r_plus + r_minus)), d,
    )


def mann_whitney_u(a: Sequence[float], b: Sequence[float], alternative: str = "two-sided") -> TestResult:
    """Mann-Whitney U test of independent samples; statistic = U of ``a``.

    ``rank_biserial`` = 2 U_a / (n_a n_b) - 1 (positive when ``a`` tends to be larger);
    ``cohens_d`` = (mean a - mean b) / pooled sd (NaN when a sample has one value or no spread).
    """
    x, y = _finite(a, "a"), _finite(b, "b")
    _check_alternative(alternative)
    _at_least(x, 1, "a")
    _at_least(y, 1, "b")
    result = scipy_stats.mannwhitneyu(x, y, alternative=alternative)
    u = float(result.statistic)
    return TestResult(
        "mannwhitney", u, float(result.pvalue), x.size, y.size,
        float(x.mean() - y.mean()), 2 * u / (x.size * y.size) - 1, _pooled_d(x, y),
    )


def _pooled_d(x: np.ndarray, y: np.ndarray) -> float:
    """Cohen's d of independent samples: mean difference over the pooled sd (n - 1 weights)."""
    if min(x.size, y.size) < 2:
        return math.nan
    pooled = ((x.size - 1) * x.var(ddof=1) + (y.size - 1) * y.var(ddof=1)) / (x.size + y.size - 2)
    return float((x.mean() - y.mean()) / math.sqrt(pooled)) if pooled > 0 else math.nan


def rank_sum(a: Sequence[float], b: Sequence[float], alternative: str = "two-sided") -> TestResult:
    """Wilcoxon rank-sum test (``scipy.stats.ranksums``, normal approximation); statistic = z."""
    x, y = _finite(a, "a"), _finite(b, "b")
    _check_alternative(alternative)
    _at_least(x, 1, "a")
    _at_least(y, 1, "b")
    result = scipy_stats.ranksums(x, y, alternative=alternative)
    u = scipy_stats.mannwhitneyu(x, y).statistic
    return TestResult(
        "ranksum", float(result.statistic), float(result.pvalue), x.size, y.size,
        float(x.mean() - y.mean()), float(2 * u / (x.size * y.size) - 1),
    )


def holm_bonferroni(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input order.

    Sorted ascending p_(1) <= ... <= p_(m): adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)).
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise MedSegError("Holm-Bonferroni needs a list of p-values in [0, 1]")
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


@dataclass(frozen=True)
class PairwiseMatrix:
    """p-values of every pair of methods: ``raw[i, j]``, ``adjusted[i, j]`` (symmetric, NaN diagonal)."""

    names: list[str]
    raw: np.ndarray
    adjusted: np.ndarray
    test: str

    def to_dict(self) -> dict[str, object]:
        def clean(matrix: np.ndarray) -> list[list[float | None]]:
            return [[None if math.isnan(v) else float(v) for v in row] for row in matrix]

        return {"test": self.test, "names": self.names,
                "raw": clean(self.raw), "adjusted": clean(self.adjusted)}


def pairwise_tests(
    groups: Mapping[str, Sequence[float]], test: str = "ranksum", correction: str = "holm"
) -> PairwiseMatrix:
    """The k x k p-value matrix for k methods (L2: pairwise Wilcoxon rank-sum with Holm-Bonferroni).

    ``test`` is ``ranksum``, ``mannwhitney`` or ``wilcoxon`` (paired: equal sizes needed);
    ``correction`` is ``holm`` or ``none``.
    """
    if test not in PAIRWISE_TESTS:
        raise MedSegError(f"test must be one of {PAIRWISE_TESTS}, got {test!r}")
    if correction not in ("holm", "none"):
        raise MedSegError(f"correction must be 'holm' or 'none', got {correction!r}")
    if len(groups) < 2:
        raise MedSegError("pairwise tests need at least two methods")
    run: Callable[[Sequence[float], Sequence[float]], TestResult] = {
        "ranksum": rank_sum, "mannwhitney": mann_whitney_u, "wilcoxon": wilcoxon_signed_rank,
    }[test]
    names = [str(name) for name in groups]
    values = list(groups.values())
    pairs = list(itertools.combinations(range(len(names)), 2))
    raw_p = [run(values[i], values[j]).p_value for i, j in pairs]
    adjusted_p = holm_bonferroni(raw_p) if correction == "holm" else np.asarray(raw_p)
    raw = np.full((len(names), len(names)), math.nan)
    adjusted = raw.copy()
    for (i, j), p, q in zip(pairs, raw_p, adjusted_p, strict=True):
        raw[i, j] = raw[j, i] = p
        adjusted[i, j] = adjusted[j, i] = q
    return PairwiseMatrix(names, raw, adjusted, test)


@dataclass(frozen=True)
class FriedmanResult:
    """Friedman test of k paired methods on n blocks; ``kendalls_w`` = chi2 / (n (k - 1))."""

    statistic: float
    p_value: float
    n: int
    k: int
    kendalls_w: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def friedman(groups: Mapping[str, Sequence[float]]) -> FriedmanResult:
    """Friedman chi-square test of three or more paired methods (``scipy.stats.friedmanchisquare``).

    Every method holds one value per block (case or fold), in the same block order.
    """
    if len(groups) < 3:
        raise MedSegError(f"the Friedman test needs at least three methods, got {len(groups)}")
    values = [_finite(v, str(name)) for name, v in groups.items()]
    sizes = {v.size for v in values}
    if len(sizes) != 1:
        raise MedSegError(f"the Friedman test needs one value per block for every method, "
                          f"got sizes {sorted(sizes)}")
    n, k = values[0].size, len(values)
    _at_least(values[0], 2, "blocks")
    result = scipy_stats.friedmanchisquare(*values)
    statistic = float(result.statistic)
    return FriedmanResult(statistic, float(result.pvalue), n, k, statistic / (n * (k - 1)))


def bootstrap_difference_ci(
    a: Sequence[float], b: Sequence[float], paired: bool, confidence: float = 0.95,
    n_resamples: int = 9999, rng: np.random.Generator | None = None,
) -> tuple[float, float]:
    """BCa bootstrap CI of mean(a) - mean(b): of the paired differences, or resampling each sample."""
    x, y = _finite(a, "a"), _finite(b, "b")
    if paired:
        if x.size != y.size:
            raise MedSegError(f"paired difference needs equal sample sizes, got {x.size} and {y.size}")
        return bootstrap_ci(x - y, confidence=confidence, n_resamples=n_resamples, rng=rng)
    _at_least(x, 2, "a")
    _at_least(y, 2, "b")
    if np.all(x == x[0]) and np.all(y == y[0]):
        value = float(x[0] - y[0])
        return value, value
    result = scipy_stats.bootstrap(
        (x, y), lambda p, q, axis: p.mean(axis=axis) - q.mean(axis=axis), confidence_level=confidence,
        n_resamples=n_resamples, method="BCa", rng=rng if rng is not None else np.random.default_rng(0),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def seed_spread(values_by_seed: Mapping[object, Sequence[float]]) -> dict[str, float | int]:
    """``{"n_seeds", "sd_of_seed_means", "range_of_seed_means"}``: the variance a seed alone causes."""
    means = np.array([_finite(v, f"seed {seed}").mean() for seed, v in values_by_seed.items()])
    if means.size == 0:
        raise MedSegError("seed spread needs at least one seed")
    sd = float(means.std(ddof=1)) if means.size > 1 else math.nan
    return {"n_seeds": int(means.size), "sd_of_seed_means": sd,
            "range_of_seed_means": float(means.max() - means.min())}


def cohens_d_paired(a: Sequence[float], b: Sequence[float]) -> float:
    """Paired Cohen's d: mean(a - b) / sd(a - b) (sd with n - 1)."""
    return wilcoxon_signed_rank(a, b).cohens_d


def bootstrap_ci(
    values: Sequence[float],
    statistic: Callable[[np.ndarray], float] = np.mean,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    rng: np.random.Generator | None = None,
) -> tuple[float, float]:
    """BCa bootstrap confidence interval of ``statistic`` (``scipy.stats.bootstrap``)."""
    x = _finite(values, "values")
    _at_least(x, 2, "values")
    if not 0 < confidence < 1:
        raise MedSegError(f"confidence must lie in (0, 1), got {confidence}")
    if np.all(x == x[0]):
        value = float(statistic(x))
        return value, value
    result = scipy_stats.bootstrap(
        (x,), lambda sample, axis: statistic(sample, axis=axis), confidence_level=confidence,
        n_resamples=n_resamples, method="BCa", rng=rng if rng is not None else np.random.default_rng(0),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _finite(values: Sequence[float], name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MedSegError(f"{name}: not a sequence of numbers") from exc
    if array.ndim != 1:
        raise MedSegError(f"{name}: expected a 1D sequence of numbers, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise MedSegError(f"{name}: contains NaN or inf; decide how to treat them before testing")
    return array


def _at_least(array: np.ndarray, n: int, name: str) -> None:
    if array.size < n:
        raise MedSegError(f"{name}: needs at least {n} values, got {array.size}")


def _check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise MedSegError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
