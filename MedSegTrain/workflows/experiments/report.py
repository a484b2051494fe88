"""``report.md`` and its PNGs for an experiment folder: summaries, tests, plots, published vs reproduced.

Reads only ``experiment.json`` and ``cases.json`` of the folder; the numbers come from
:mod:`MedSegTrain.workflows.experiments.analysis`, the figures go to ``figures/`` beside the
report. Every file is written atomically, the report last, so a report never names a missing plot.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from MedSegTrain import stats
from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import parse_json, write_text_atomic
from MedSegTrain.reporting.markdown import format_number, markdown_table
from MedSegTrain.workflows.experiments import analysis

FIGURES = "figures"
SUMMARY_HEADER = ["arm", "n", "mean", "sd", "CI 95 % low", "CI 95 % high", "sd over seeds", "seeds"]
COMPARISON_HEADER = ["arm", "versus", "test", "statistic", "p", "p (Holm)", "mean difference",
                     "CI low", "CI high", "rank-biserial", "Cohen's d"]
CLAIM_HEADER = ["claim", "source", "metric", "paper", "reproduced", "difference [95 % CI]",
                "p (Holm)", "verdict"]


def write_report(out_dir: Path) -> Path:
    """Write ``out_dir/report.md`` and ``out_dir/figures/*.png``; returns the report's path."""
    out_dir = Path(out_dir)
    experiment = _read(out_dir / "experiment.json")
    rows = _read(out_dir / "cases.json")
    if not isinstance(experiment, dict) or not isinstance(experiment.get("spec"), dict):
        raise MedSegError(f"{out_dir / 'experiment.json'}: expected an object with a 'spec'")
    if not isinstance(rows, list) or not rows:
        raise MedSegError(f"{out_dir / 'cases.json'}: no per-case rows (did any trial finish?)")
    spec = experiment["spec"]
    figures = out_dir / FIGURES
    figures.mkdir(exist_ok=True)
    order = list(dict.fromkeys(str(t["arm"]) for t in experiment.get("trials", []) if "arm" in t))
    text = "\n\n".join(_sections(spec, experiment, rows, order, figures)) + "\n"
    path = out_dir / "report.md"
    write_text_atomic(path, text)
    return path


def _sections(spec: Mapping[str, Any], experiment: Mapping[str, Any], rows: Sequence[Mapping[str, Any]],
              order: Sequence[str], figures: Path) -> list[str]:
    from MedSegTrain.reporting.experiment_plots import save_box_strip
    from MedSegTrain.reporting.heatmap import save_heatmap

    settings = spec.get("statistics") or {}
    primary = str(settings.get("metric", "dice"))
    design = str(settings.get("design", "independent"))
    metrics = [m for m in dict.fromkeys([primary, *(spec.get("metrics") or [])]) if m in rows[0]]
    trials = experiment.get("trials", [])
    status = {s: sum(t.get("status") == s for t in trials) for s in ("done", "failed", "pending")}
    parts = [f"# {spec.get('title') or spec.get('name', 'Experiment')}",
             f"Spec `{spec.get('name', '')}`, code version `{experiment.get('code_version', 'unknown')}`. "
             f"Trials: {status['done']} done, {status['failed']} failed, {status['pending']} pending. "
             f"Design `{design}`, primary metric `{primary}`, Holm-corrected two-sided tests; "
             f"CIs are case-level BCa bootstrap intervals (seed {analysis.BOOTSTRAP_SEED}). "
             "Rules: docs/experiments.md, \"Statistics and the report\"."]
    results = {m: analysis.analyse(rows, spec, m, order) for m in metrics}
    parts.append("## Per arm")
    for metric, result in results.items():
        parts.append(f"### {metric}\n\n" + markdown_table(SUMMARY_HEADER, [
            [a.arm, a.n, a.mean, a.sd, a.ci_low, a.ci_high, a.seed_sd, a.n_seeds] for a in result.arms], 4))
        groups = {a: list(v.values()) for a, v in analysis.units(rows, metric, design).items()}
        name = f"box_{metric}.png"
        save_box_strip(figures / name, {a.arm: groups[a.arm] for a in result.arms},
                       title=f"{metric} per arm ({design} units)", y_label=metric)
        parts.append(f"![{metric} per arm]({FIGURES}/{name})")
    main = results[primary]
    parts.append(f"## Tests against the reference `{main.reference}` ({primary})")
    parts.append(markdown_table(COMPARISON_HEADER, [_comparison_row(c) for c in main.comparisons], 4)
                 if main.comparisons else "No comparison (a single arm).")
    if main.friedman is not None:
        f = main.friedman
        parts.append(f"Friedman test over {f.k} arms and {f.n} blocks: chi2 = {f.statistic:.4f}, "
                     f"p = {f.p_value:.4g}, Kendall's W = {f.kendalls_w:.4f}.")
    if main.pairwise is not None:
        matrix = main.pairwise
        test = {"ranksum": "Wilcoxon rank-sum", "wilcoxon": "Wilcoxon signed-rank"}[matrix.test]
        save_heatmap(figures / "pvalues.png", matrix.adjusted, matrix.names, matrix.names,
                     title=f"{test}, Holm-adjusted p ({primary})", value_label="adjusted p",
                     vmin=0.0, vmax=1.0, digits=3, cmap="viridis_r")
        cells = [[n, *("-" if math.isnan(v) else format_p(v) for v in row)]
                 for n, row in zip(matrix.names, matrix.adjusted.tolist(), strict=True)]
        parts.append(f"Pairwise {test} tests, Holm-adjusted p over all pairs:\n\n"
                     + markdown_table(["", *matrix.names], cells)
                     + f"\n\n![p-value heatmap]({FIGURES}/pvalues.png)")
    parts += [*_factor_curves(spec, rows, primary, design, figures), *_grid(spec, rows, primary, figures),
              *_calibration(figures.parent, trials, order, figures)]
    parts.append("## Published vs reproduced")
    parts.append(_claims(rows, spec))
    notes = [n for r in results.values() for n in r.notes]
    if notes:
        parts.append("## Notes\n\n" + "\n".join(f"- {n}" for n in notes))
    return parts


def format_p(value: float) -> str:
    """A p-value with four significant digits (small ones in scientific notation)."""
    return format_number(value) if math.isnan(value) else f"{value:.4g}"


def _comparison_row(c: analysis.Comparison) -> list[object]:
    r = c.result
    return [c.arm, c.versus, r.test, r.statistic, format_p(r.p_value), format_p(c.p_adjusted),
            r.mean_difference, c.ci_low, c.ci_high, r.rank_biserial, r.cohens_d]


def _factor_curves(spec: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], metric: str, design: str,
                   figures: Path) -> list[str]:
    """A mean-with-CI curve for each numeric factor (the alpha-vs-Dice curve of X3)."""
    from MedSegTrain.reporting.experiment_plots import save_curve

    parts = []
    for factor in spec.get("factors") or []:
        name = str(factor.get("name") or str(factor.get("key", "")).split(".")[-1])
        values = factor.get("values")
        if not values or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            continue
        grouped = analysis.units(rows, metric, design, group=name)
        points = []
        for value, found in sorted(grouped.items(), key=lambda item: float(item[0])):
            sample = np.array(list(found.values()))
            low, high = (stats.bootstrap_ci(sample, rng=np.random.default_rng(analysis.BOOTSTRAP_SEED))
                         if sample.size > 1 else (math.nan, math.nan))
            points.append((float(value), float(sample.mean()), low, high, sample.size))
        if len(points) < 2:
            continue
        x, mean, low, high, _ = (list(column) for column in zip(*points, strict=True))
        figure = f"curve_{name}.png"
        save_curve(figures / figure, x, mean, low, high, title=f"{metric} against {name}", x_label=name,
                   y_label=f"mean {metric}")
        parts.append(f"## {metric} against {name}\n\n" + markdown_table(
            [name, "n", "mean", "CI 95 % low", "CI 95 % high"],
            [[format_number(p[0], 3), p[4], p[1], p[2], p[3]] for p in points], 4)
                     + f"\n\n![{metric} against {name}]({FIGURES}/{figure})")
    return parts


def _grid(spec: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], metric: str,
          figures: Path) -> list[str]:
    """With exactly two factors, the mean of ``metric`` over each cell's units (the transfer grid, T5)."""
    from MedSegTrain.reporting.heatmap import save_heatmap

    factors = spec.get("factors") or []
    if len(factors) != 2:
        return []
    names = [str(f.get("name") or str(f.get("key", "")).split(".")[-1]) for f in factors]
    tagged = [{**row, "_cell": json.dumps([str(row[names[0]]), str(row[names[1]])])} for row in rows]
    cells = {tuple(json.loads(k)): float(np.mean(list(v.values())))
             for k, v in analysis.units(tagged, metric, "independent", group="_cell").items()}
    row_labels = list(dict.fromkeys(str(row[names[0]]) for row in rows))
    col_labels = list(dict.fromkeys(str(row[names[1]]) for row in rows))
    grid = [[cells.get((r, c), math.nan) for c in col_labels] for r in row_labels]
    save_heatmap(figures / "grid.png", grid, row_labels, col_labels, title=f"mean {metric}",
                 value_label=metric, x_label=names[1], y_label=names[0], digits=3)
    return [f"## {names[0]} x {names[1]} ({metric})\n\n" + markdown_table(
        [f"{names[0]} \\ {names[1]}", *col_labels],
        [[r, *g] for r, g in zip(row_labels, grid, strict=True)], 4)
            + f"\n\n![grid]({FIGURES}/grid.png)"]


def _calibration(out_dir: Path, trials: Sequence[Mapping[str, Any]], order: Sequence[str],
                 figures: Path) -> list[str]:
    """Reliability diagram and ECE per arm, pooled over the trials that wrote
    ``trials/<id>/calibration.json`` (:func:`MedSegTrain.metrics.calibration.reliability_curve`'s dict)."""
    from MedSegTrain.reporting.experiment_plots import save_reliability

    pooled: dict[str, dict[str, np.ndarray]] = {}
    for trial in trials:
        path = out_dir / "trials" / str(trial.get("id")) / "calibration.json"
        if trial.get("status") != "done" or not path.is_file():
            continue
        curve = _read(path)
        try:
            count = np.asarray(curve["count"], dtype=float)
            conf = np.nan_to_num(np.asarray(curve["confidence"], dtype=float)) * count
            acc = np.nan_to_num(np.asarray(curve["accuracy"], dtype=float)) * count
        except (KeyError, TypeError, ValueError):
            raise MedSegError(f"{path}: expected count, confidence and accuracy lists per bin") from None
        empty = {key: np.zeros_like(count) for key in ("count", "conf", "acc")}
        arm = pooled.setdefault(str(trial["arm"]), empty)
        if arm["count"].shape != count.shape or conf.shape != count.shape or acc.shape != count.shape:
            raise MedSegError(f"{path}: its bins differ from the other trials' of arm {trial['arm']!r}")
        arm["count"] += count
        arm["conf"] += conf
        arm["acc"] += acc
    if not pooled:
        return []
    names = [a for a in order if a in pooled] + sorted(a for a in pooled if a not in order)
    curves, table = {}, []
    for name in names:
        arm = pooled[name]
        with np.errstate(invalid="ignore", divide="ignore"):
            conf, acc = arm["conf"] / arm["count"], arm["acc"] / arm["count"]
        curves[name] = (conf.tolist(), acc.tolist())
        ece = float(np.sum(np.abs(arm["acc"] - arm["conf"])) / arm["count"].sum())
        table.append([name, int(arm["count"].sum()), ece])
    save_reliability(figures / "reliability.png", curves, title="reliability (pooled over trials)")
    return ["## Calibration\n\n" + markdown_table(["arm", "voxels", "ECE"], table, 4)
            + f"\n\n![reliability diagram]({FIGURES}/reliability.png)"]


def _claims(rows: Sequence[Mapping[str, Any]], spec: Mapping[str, Any]) -> str:
    verdicts = analysis.judge_claims(rows, spec)
    if not verdicts:
        return "The spec lists no published claims."
    table = []
    for v in verdicts:
        claim, c = v.claim, v.comparison
        paper = claim.get("paper") or {}
        paper_text = (f"{format_number(float(paper['arm']), 4)} vs {format_number(float(paper['versus']), 4)}"
                      if v.paper_difference is not None else "-")
        if c is None:
            reproduced, difference, p = "-", "-", "-"
        else:
            design = str((spec.get("statistics") or {}).get("design", "independent"))
            found = analysis.units(rows, str(claim.get("metric", "dice")), design)
            reproduced = (f"{format_number(float(np.mean(list(found[c.arm].values()))), 4)} vs "
                          f"{format_number(float(np.mean(list(found[c.versus].values()))), 4)}")
            difference = (f"{c.result.mean_difference:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}]")
            p = format_p(c.p_adjusted)
        table.append([str(claim.get("claim", "")), str(claim.get("source", "")),
                      str(claim.get("metric", "dice")), paper_text, reproduced, difference, p,
                      f"**{v.verdict}** ({v.reason})"])
    return markdown_table(CLAIM_HEADER, table, 4)


def _read(path: Path) -> Any:
    if not path.is_file():
        raise MedSegError(f"{path}: not found; is this an experiment folder (medsegtrain experiment run)?")
    return parse_json(path.read_text(encoding="utf-8"), str(path))
