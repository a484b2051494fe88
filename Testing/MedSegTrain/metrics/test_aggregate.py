"""Aggregation over cases (X10, L2, C7): hand-computed summaries, inf/NaN policy, CSV/JSON/table."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from MedSegTrain.metrics.aggregate import (
    format_table,
    records_to_csv,
    records_to_json,
    summarize,
    summarize_records,
)

RECORDS = [
    {"case": "a", "target": "liver", "dice": 0.9, "hd95": 1.0},
    {"case": "b", "target": "liver", "dice": 0.8, "hd95": math.inf},
    {"case": "c", "target": "liver", "dice": 0.7, "hd95": 3.0},
    {"case": "a", "target": "spleen", "dice": math.nan, "hd95": 2.0},
]


def test_summary_by_hand():
    # 0.9, 0.8, 0.7: mean 0.8, sd 0.1, median 0.8, CI = 0.8 +- t(0.975, 2) * 0.1 / sqrt(3)
    summary = summarize([0.9, 0.8, 0.7])
    half = 4.302652729911275 * 0.1 / math.sqrt(3)  # t(0.975, df=2) from tables
    assert (summary.mean, summary.sd, summary.median) == pytest.approx((0.8, 0.1, 0.8))
    assert (summary.ci95_low, summary.ci95_high) == pytest.approx((0.8 - half, 0.8 + half))
    assert summary.n == summary.n_used == 3 and summary.n_inf == summary.n_nan == 0


def test_inf_is_left_out_or_replaced_and_nan_left_out():
    values = [1.0, math.inf, 3.0, math.nan]
    left_out = summarize(values)
    assert (left_out.n, left_out.n_used, left_out.n_inf, left_out.n_nan) == (4, 2, 1, 1)
    assert left_out.mean == 2.0
    replaced = summarize(values, inf_value=373.13)
    assert replaced.n_used == 3 and replaced.n_inf == 1
    assert replaced.mean == pytest.approx((1 + 373.13 + 3) / 3)
    assert replaced.median == 3.0


def test_single_or_no_value():
    one = summarize([0.5])
    assert one.mean == 0.5 and math.isnan(one.sd) and math.isnan(one.ci95_low)
    none = summarize([math.nan])
    assert math.isnan(none.mean) and none.n_nan == 1


def test_ci_matches_scipy_t_interval():
    values = np.random.default_rng(4).normal(0.85, 0.05, 12)
    summary = summarize(values)
    low, high = scipy_stats.t.interval(0.95, 11, loc=values.mean(), scale=scipy_stats.sem(values))
    assert (summary.ci95_low, summary.ci95_high) == pytest.approx((low, high))


def test_records_per_target_csv_json_and_table():
    summaries = summarize_records(RECORDS, ["dice", "hd95"])
    assert list(summaries) == ["liver", "spleen"]
    assert summaries["liver"]["hd95"].mean == 2.0 and summaries["liver"]["hd95"].n_inf == 1
    assert summaries["spleen"]["dice"].n_nan == 1

    rows = list(csv.reader(io.StringIO(records_to_csv(RECORDS, summaries, ["dice", "hd95"]))))
    assert rows[0] == ["case", "target", "dice", "hd95"]
    assert rows[2] == ["b", "liver", "0.8", "inf"]
    assert ["n_inf", "liver", "0", "1"] in rows
    mean_row = next(r for r in rows if r[:2] == ["mean", "liver"])
    assert float(mean_row[2]) == pytest.approx(0.8)

    document = records_to_json(RECORDS, summaries, inf_value=None)
    assert document["summary"]["liver"]["hd95"]["n_used"] == 2
    assert "left out" in document["nonfinite_policy"]

    table = format_table(RECORDS, summaries, ["dice", "hd95"])
    assert "0.9000" in table and "inf" in table and "ci95_low" in table
    assert "inf/NaN" in table
