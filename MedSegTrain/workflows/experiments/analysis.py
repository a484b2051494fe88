"""An experiment's per-case table -> per-arm summaries, its design's tests, claim verdicts (X3, X4, L2).

The unit of analysis: a row of ``cases.json`` is one trial x case x label; the labels of a
(trial, case) are averaged first (non-finite values left out), so every unit is one case of one
trial. ``independent`` compares all units of two arms (Mann-Whitney; with more than two arms also
the L2 rank-sum matrix); ``paired_case`` pairs units by (fold, seed, case) and ``paired_fold`` pairs
the per-(fold, seed) means over cases (Wilcoxon signed-rank; with more than two arms also Friedman
and the Wilcoxon post-hoc matrix). Comparisons with the reference arm, and the published claims,
are Holm-corrected within their family. Bootstrap CIs use a fixed seed, so a report is reproducible.

Verdict of a claim "arm is greater/less than versus on metric" (docs/experiments.md):
*confirmed* when the observed mean difference has the claimed sign and the corrected p < 0.05;
*not confirmed* when it has the opposite sign with corrected p < 0.05, or when the 95 % CI of the
difference excludes the paper's own difference; *inconclusive at this sample size* otherwise.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from MedSegTrain import stats
from MedSegTrain.errors import MedSegError

DESIGNS = ("independent", "paired_case", "paired_fold")
ALPHA = 0.05
BOOTSTRAP_SEED = 0
CONFIRMED, NOT_CONFIRMED, INCONCLUSIVE = "confirmed", "not confirmed", "inconclusive at this sample size"
Row = Mapping[str, Any]
Key = tuple


@dataclass(frozen=True)
class ArmSummary:
    """One arm on one metric: its units' mean, sd, bootstrap 95 % CI and the spread over seeds."""

    arm: str
    n: int
    mean: float
    sd: float
    ci_low: float
    ci_high: float
    seed_sd: float
    n_seeds: int


@dataclass(frozen=True)
class Comparison:
    """``arm`` against ``versus``: the design's test, its corrected p and the CI of the mean difference."""

    arm: str
    versus: str
    result: stats.TestResult
    p_adjusted: float
    ci_low: float
    ci_high: float


@dataclass
class Analysis:
    """Everything the report shows for one metric under the spec's design."""

    metric: str
    design: str
    reference: str
    arms: list[ArmSummary]
    comparisons: list[Comparison]
    friedman: stats.FriedmanResult | None = None
    pairwise: stats.PairwiseMatrix | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ClaimVerdict:
    """A published claim, what this study measured for it, and the verdict."""

    claim: Mapping[str, Any]
    comparison: Comparison | None
    paper_difference: float | None
    verdict: str
    reason: str


def units(rows: Sequence[Row], metric: str, design: str, group: str = "arm") -> dict[str, dict[Key, float]]:
    """``{group value: {unit key: value}}``: labels averaged per (trial, case); for ``paired_fold``
    the cases averaged per (fold, seed). Keys are (fold, seed, case) or (fold, seed)."""
    _check_design(design)
    per_case: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    keys: dict[tuple[str, str, str], Key] = {}
    for row in rows:
        if metric not in row:
            raise MedSegError(f"cases table: no column {metric!r} (columns: {', '.join(row)})")
        value = row[metric]
        ident = (str(row[group]), str(row["trial"]), str(row["case"]))
        keys[ident] = (int(row["fold"]), int(row["seed"]), str(row["case"]))
        if value is not None and math.isfinite(float(value)):
            per_case[ident].append(float(value))
    by_group: dict[str, dict[Key, list[float]]] = defaultdict(lambda: defaultdict(list))
    for ident, key in keys.items():
        if ident not in per_case:
            continue
        unit = key[:2] if design == "paired_fold" else key
        by_group[ident[0]][unit].append(float(np.mean(per_case[ident])))
    return {name: {key: float(np.mean(v)) for key, v in sorted(found.items())}
            for name, found in by_group.items()}


def analyse(rows: Sequence[Row], spec: Mapping[str, Any], metric: str | None = None,
            arm_order: Sequence[str] | None = None) -> Analysis:
    """Per-arm summaries and the design's tests of ``metric`` (default: the spec's primary metric)."""
    settings = spec.get("statistics") or {}
    design = str(settings.get("design", "independent"))
    metric = metric or str(settings.get("metric", "dice"))
    correction = str(settings.get("correction", "holm"))
    data = units(rows, metric, design)
    order = list(arm_order or [])
    names = [a for a in order if a in data] + sorted(a for a in data if a not in order)
    if not names:
        raise MedSegError(f"cases table: no finite {metric!r} value in any arm")
    reference = str(settings.get("reference") or names[0])
    notes: list[str] = []
    paired = design != "independent"
    if paired:
        data, dropped = _common_units(data, names)
        if dropped:
            notes.append(f"{metric}: {dropped} unit(s) missing in some arm were left out of the paired tests")
    analysis = Analysis(metric, design, reference, [_summary(a, data[a]) for a in names], [], notes=notes)
    if reference not in data:
        notes.append(f"reference arm {reference!r} has no {metric} values; no comparisons")
        return analysis
    others = [a for a in names if a != reference and min(len(data[a]), len(data[reference])) >= 2]
    too_few = [a for a in names if a != reference and a not in others]
    if too_few:
        notes.append(f"{metric}: fewer than two units in {', '.join(too_few)} or the reference; not tested")
    raw = [compare(data[a], data[reference], paired) for a in others]
    adjusted = stats.holm_bonferroni([r.p_value for r in raw]) if raw and correction == "holm" else \
        [r.p_value for r in raw]
    for arm, result, p in zip(others, raw, adjusted, strict=True):
        low, high = _difference_ci(data[arm], data[reference], paired)
        analysis.comparisons.append(Comparison(arm, reference, result, float(p), low, high))
    if len(names) > 2 and min(len(data[a]) for a in names) >= 2:
        groups = {a: list(data[a].values()) for a in names}
        if paired:
            analysis.friedman = stats.friedman(groups)
        analysis.pairwise = stats.pairwise_tests(groups, "wilcoxon" if paired else "ranksum",
                                                 correction if correction == "none" else "holm")
    return analysis


def compare(a: Mapping[Key, float], b: Mapping[Key, float], paired: bool) -> stats.TestResult:
    """Wilcoxon signed-rank on the shared keys (paired) or Mann-Whitney U (independent), two-sided."""
    if paired:
        shared = sorted(set(a) & set(b))
        return stats.wilcoxon_signed_rank([a[k] for k in shared], [b[k] for k in shared])
    return stats.mann_whitney_u(list(a.values()), list(b.values()))


def judge_claims(rows: Sequence[Row], spec: Mapping[str, Any]) -> list[ClaimVerdict]:
    """A verdict for every ``published`` claim; p-values Holm-corrected over the claims."""
    claims = list(spec.get("published") or [])
    design = str((spec.get("statistics") or {}).get("design", "independent"))
    paired = design != "independent"
    found: list[tuple[dict, stats.TestResult, tuple[float, float]] | None] = []
    for claim in claims:
        data = units(rows, str(claim.get("metric", "dice")), design)
        arm, versus = str(claim.get("arm")), str(claim.get("versus"))
        if arm not in data or versus not in data:
            found.append(None)
            continue
        if paired:
            data, _ = _common_units(data, [arm, versus])
        a, b = data[arm], data[versus]
        if min(len(a), len(b)) < 2:
            found.append(None)
            continue
        found.append((claim, compare(a, b, paired), _difference_ci(a, b, paired)))
    p_raw = [f[1].p_value for f in found if f is not None]
    p_adjusted = iter(stats.holm_bonferroni(p_raw) if p_raw else [])
    verdicts = []
    for claim, item in zip(claims, found, strict=True):
        paper = claim.get("paper") or {}
        has_paper = {"arm", "versus"} <= set(paper)
        paper_difference = float(paper["arm"]) - float(paper["versus"]) if has_paper else None
        if item is None:
            verdicts.append(ClaimVerdict(claim, None, paper_difference, INCONCLUSIVE,
                                         "an arm of the claim has fewer than two results"))
            continue
        _, result, (low, high) = item
        comparison = Comparison(str(claim["arm"]), str(claim["versus"]), result, float(next(p_adjusted)),
                                low, high)
        verdict, reason = verdict_of(str(claim.get("direction", "greater")), comparison, paper_difference)
        verdicts.append(ClaimVerdict(claim, comparison, paper_difference, verdict, reason))
    return verdicts


def verdict_of(direction: str, comparison: Comparison, paper_difference: float | None) -> tuple[str, str]:
    """The verdict rule of the module docstring, with the reason in words."""
    if direction not in ("greater", "less"):
        raise MedSegError(f"published claim: direction must be 'greater' or 'less', got {direction!r}")
    difference = comparison.result.mean_difference
    claimed = 1 if direction == "greater" else -1
    significant = comparison.p_adjusted < ALPHA
    if significant and np.sign(difference) == claimed:
        return CONFIRMED, f"difference {difference:+.4f} in the claimed direction, corrected p < {ALPHA}"
    if significant and np.sign(difference) == -claimed:
        return NOT_CONFIRMED, f"difference {difference:+.4f} opposite to the claim, corrected p < {ALPHA}"
    if paper_difference is not None and not comparison.ci_low <= paper_difference <= comparison.ci_high:
        return NOT_CONFIRMED, (f"the paper's difference {paper_difference:+.4f} lies outside the 95 % CI "
                               f"[{comparison.ci_low:+.4f}, {comparison.ci_high:+.4f}]")
    return INCONCLUSIVE, f"corrected p = {comparison.p_adjusted:.3g} >= {ALPHA}"


def seed_values(rows: Sequence[Row], metric: str, design: str) -> dict[str, dict[int, list[float]]]:
    """``{arm: {seed: unit values}}`` of ``metric`` (for the spread over seeds)."""
    grouped: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for arm, found in units(rows, metric, design).items():
        for key, value in found.items():
            grouped[arm][key[1]].append(value)
    return grouped


def _summary(arm: str, found: Mapping[Key, float]) -> ArmSummary:
    values = np.array(list(found.values()))
    by_seed: dict[int, list[float]] = defaultdict(list)
    for key, value in found.items():
        by_seed[key[1]].append(value)
    spread = stats.seed_spread(by_seed)
    sd = float(values.std(ddof=1)) if values.size > 1 else math.nan
    low, high = (stats.bootstrap_ci(values, rng=np.random.default_rng(BOOTSTRAP_SEED)) if values.size > 1
                 else (math.nan, math.nan))
    return ArmSummary(arm, int(values.size), float(values.mean()), sd, low, high,
                      float(spread["sd_of_seed_means"]), int(spread["n_seeds"]))


def _difference_ci(a: Mapping[Key, float], b: Mapping[Key, float], paired: bool) -> tuple[float, float]:
    if paired:
        shared = sorted(set(a) & set(b))
        x, y = [a[k] for k in shared], [b[k] for k in shared]
    else:
        x, y = list(a.values()), list(b.values())
    if min(len(x), len(y)) < 2:
        return math.nan, math.nan
    return stats.bootstrap_difference_ci(x, y, paired, rng=np.random.default_rng(BOOTSTRAP_SEED))


def _common_units(data: Mapping[str, Mapping[Key, float]], names: Sequence[str]
                  ) -> tuple[dict[str, dict[Key, float]], int]:
    shared = set.intersection(*(set(data[a]) for a in names))
    dropped = sum(len(data[a]) - len(shared) for a in names)
    return {a: {k: data[a][k] for k in sorted(shared)} for a in names}, dropped


def _check_design(design: str) -> None:
    if design not in DESIGNS:
        raise MedSegError(f"statistics.design must be one of {', '.join(DESIGNS)}, got {design!r}")
