"""``write_report`` on a synthetic experiment folder: files, the numbers scipy gives, the verdicts (X3)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy import stats as scipy_stats

from MedSegTrain.errors import MedSegError
from MedSegTrain.reporting.markdown import format_number
from MedSegTrain.workflows.experiments.report import write_report

ALPHAS = [0.0, 0.2, 0.4, 0.8]
EFFECT = {0.0: 0.0, 0.2: 0.06, 0.4: -0.07, 0.8: 0.003}  # confirmed, not confirmed, inconclusive
CASES = ["c1", "c2", "c3", "c4", "c5"]
SPEC = {
    "name": "mixup_alpha_sweep", "title": "Mixup alpha sweep (synthetic)",
    "factors": [{"name": "alpha", "key": "mixup.alpha", "values": ALPHAS}],
    "folds": 2, "seeds": [0, 1], "metrics": ["dice", "nsd"],
    "statistics": {"design": "independent", "reference": "alpha=0.0", "correction": "holm", "metric": "dice"},
    "published": [
        {"claim": "alpha 0.2 beats no mixup", "source": "Table 2", "metric": "dice", "arm": "alpha=0.2",
         "versus": "alpha=0.0", "direction": "greater", "paper": {"arm": 0.80, "versus": 0.75}},
        {"claim": "alpha 0.4 beats no mixup", "source": "Table 2", "metric": "dice", "arm": "alpha=0.4",
         "versus": "alpha=0.0", "direction": "greater"},
        {"claim": "alpha 0.8 beats no mixup", "source": "Table 2", "metric": "dice", "arm": "alpha=0.8",
         "versus": "alpha=0.0", "direction": "greater", "paper": {"arm": 0.751, "versus": 0.75}},
    ],
}


def _folder(tmp_path):
    rng = np.random.default_rng(5)
    trials, rows = [], []
    for alpha, fold, seed in itertools.product(ALPHAS, (0, 1), (0, 1)):
        arm, trial = f"alpha={alpha}", f"a{alpha}-f{fold}-s{seed}"
        trials.append({"id": trial, "arm": arm, "factors": {"alpha": alpha}, "fold": fold, "seed": seed,
                       "status": "done", "seconds": 1.0, "error": None})
        for case in CASES:
            dice = 0.75 + EFFECT[alpha] + rng.normal(0, 0.02)
            rows.append({"trial": trial, "arm": arm, "alpha": alpha, "fold": fold, "seed": seed, "case": case,
                         "label": "1", "dice": dice, "hd95": 3.0 - dice, "nsd": min(1.0, dice + 0.1)})
    (tmp_path / "experiment.json").write_text(json.dumps(
        {"spec": SPEC, "code_version": "test", "packages": {}, "hardware": {}, "trials": trials}))
    (tmp_path / "cases.json").write_text(json.dumps(rows))
    return rows


def _table_rows(text: str, first_cell: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith(f"| {first_cell} ")]


def test_report_holds_scipys_numbers_the_verdicts_and_the_figures(tmp_path):
    rows = _folder(tmp_path)
    path = write_report(tmp_path)
    text = path.read_text()
    assert path == tmp_path / "report.md"
    for name in ("box_dice.png", "box_nsd.png", "pvalues.png", "curve_alpha.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 1000, name
        assert f"figures/{name}" in text
    sample = {a: np.array([r["dice"] for r in rows if r["alpha"] == a]) for a in ALPHAS}
    reference = sample[0.0]
    p = [scipy_stats.mannwhitneyu(sample[a], reference).pvalue for a in ALPHAS[1:]]
    holm = np.minimum(1, np.maximum.accumulate(np.sort(p) * [3, 2, 1]))[np.argsort(np.argsort(p))]
    comparisons = _table_rows(text, "alpha=0.8 | alpha=0.0 | mannwhitney")
    assert len(comparisons) == 1
    cells = comparisons[0]
    assert cells[4] == f"{p[2]:.4g}" and cells[5] == f"{holm[2]:.4g}"
    small = _table_rows(text, "alpha=0.2 | alpha=0.0 | mannwhitney")[0]
    assert float(small[4]) == pytest.approx(p[0], rel=1e-3)
    assert cells[3] == format_number(scipy_stats.mannwhitneyu(sample[0.8], reference).statistic, 4)
    (arm_row, *_) = _table_rows(text, "alpha=0.2")
    ci = scipy_stats.bootstrap((sample[0.2],), np.mean, method="BCa", n_resamples=9999,
                               rng=np.random.default_rng(0)).confidence_interval
    assert arm_row[1:6] == [str(sample[0.2].size), *(format_number(v, 4) for v in (
        sample[0.2].mean(), sample[0.2].std(ddof=1), ci.low, ci.high))]
    claims = [c["claim"] for c in SPEC["published"]]
    verdicts = {r[0]: r[-1] for claim in claims for r in _table_rows(text, claim)}
    assert verdicts["alpha 0.2 beats no mixup"].startswith("**confirmed**")
    assert verdicts["alpha 0.4 beats no mixup"].startswith("**not confirmed**")
    assert verdicts["alpha 0.8 beats no mixup"].startswith("**inconclusive at this sample size**")


def test_two_factors_give_the_grid_and_a_missing_folder_is_refused(tmp_path):
    rows = _folder(tmp_path)
    spec = dict(SPEC, factors=[*SPEC["factors"], {"name": "train", "arms": {"A": {}, "B": {}}}], published=[])
    for i, row in enumerate(rows):
        row["train"] = "AB"[i % 2]
    (tmp_path / "cases.json").write_text(json.dumps(rows))
    document = json.loads((tmp_path / "experiment.json").read_text())
    (tmp_path / "experiment.json").write_text(json.dumps(dict(document, spec=spec)))
    text = write_report(tmp_path).read_text()
    assert (tmp_path / "figures" / "grid.png").is_file()
    (grid_row,) = _table_rows(text, "0.2")[-1:]
    cell = np.mean([r["dice"] for r in rows if r["alpha"] == 0.2 and r["train"] == "B"])
    assert grid_row[2] == format_number(cell, 4)
    with pytest.raises(MedSegError, match=r"experiment\.json: not found"):
        write_report(tmp_path / "nothing")


def test_calibration_files_give_the_pooled_ece_and_a_reliability_diagram(tmp_path):
    from MedSegTrain.metrics.calibration import expected_calibration_error, reliability_curve

    _folder(tmp_path)
    rng = np.random.default_rng(2)
    pooled_prob, pooled_ref = [], []
    for fold, seed in itertools.product((0, 1), (0, 1)):
        ref = rng.random(400) < 0.3
        prob = np.clip(np.where(ref, 0.7, 0.2) + rng.normal(0, 0.15, 400), 0, 1)  # over-/under-confident
        curve = reliability_curve(prob, ref.astype(np.int64))
        folder = tmp_path / "trials" / f"a0.2-f{fold}-s{seed}"
        folder.mkdir(parents=True)
        (folder / "calibration.json").write_text(json.dumps({k: v.tolist() for k, v in curve.items()}))
        pooled_prob.append(prob)
        pooled_ref.append(ref)
    text = write_report(tmp_path).read_text()
    (row,) = _table_rows(text, "alpha=0.2 | 1600")
    labels = np.concatenate(pooled_ref).astype(np.int64)
    expected = expected_calibration_error(np.concatenate(pooled_prob), labels)
    assert row[2] == format_number(expected, 4)
    assert (tmp_path / "figures" / "reliability.png").stat().st_size > 1000
