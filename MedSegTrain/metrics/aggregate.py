"""Aggregation of per-case metrics: mean, sd, median, 95 % CI, and how inf/NaN were treated (X10, L2, C7).

Cases whose metric is NaN (undefined, e.g. precision of an empty prediction) are left out and
counted. Cases whose metric is inf (a surface distance with exactly one empty mask) are left out
and counted by default, or replaced by ``inf_value`` when given (BraTS-style penalty, e.g. 373.13
mm). The CI is the t-interval of the mean: mean +- t(0.975, n-1) sd / sqrt(n), sd with n-1.

Results are *records*: one dict per case and target (label/region), ``{"case", "target", metric: value}``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

SUMMARY_ROWS = ("mean", "sd", "median", "ci95_low", "ci95_high", "n_used", "n_inf", "n_nan")
DISTANCE_METRICS = frozenset({"hd", "hd95", "msd", "msd_2d"})
Record = Mapping[str, Any]


@dataclass(frozen=True)
class Summary:
    """Statistics of one metric over cases, with the counts of left-out or replaced values."""

    n: int
    n_used: int
    n_inf: int
    n_nan: int
    mean: float
    sd: float
    median: float
    ci95_low: float
    ci95_high: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


Summaries = Mapping[str, Mapping[str, Summary]]


def summarize(values: Iterable[float], inf_value: float | None = None, confidence: float = 0.95) -> Summary:
    """Summary of ``values``: NaN left out; inf left out, or replaced by ``inf_value`` when given."""
    array = np.asarray(list(values), dtype=np.float64)
    nan = np.isnan(array)
    inf = np.isinf(array)
    if inf_value is not None:
        array = np.where(inf, inf_value, array)
        used = array[~nan]
    else:
        used = array[~nan & ~inf]
    n_used = used.size
    mean = float(used.mean()) if n_used else math.nan
    sd = float(used.std(ddof=1)) if n_used > 1 else math.nan
    if n_used > 1:
        half = float(scipy_stats.t.ppf(0.5 + confidence / 2, n_used - 1)) * sd / math.sqrt(n_used)
        low, high = (mean, mean) if sd == 0 else (mean - half, mean + half)
    else:
        low = high = math.nan
    return Summary(
        n=int(array.size),
        n_used=int(n_used),
        n_inf=int(inf.sum()),
        n_nan=int(nan.sum()),
        mean=mean,
        sd=sd,
        median=float(np.median(used)) if n_used else math.nan,
        ci95_low=low,
        ci95_high=high,
    )


def summarize_records(
    records: Sequence[Record], metrics: Sequence[str], inf_value: float | None = None
) -> dict[str, dict[str, Summary]]:
    """``{target: {metric: Summary}}`` over the cases of each target, in first-seen order."""
    targets = list(dict.fromkeys(str(record["target"]) for record in records))
    return {
        target: {
            metric: summarize(
                (float(r[metric]) for r in records if r["target"] == target), inf_value=inf_value
            )
            for metric in metrics
        }
        for target in targets
    }


def records_to_csv(
    records: Sequence[Record], summaries: Summaries, metrics: Sequence[str]
) -> str:
    """CSV: one row per case and target, then per target the rows ``mean, sd, median, ci95_low,
    ci95_high, n_used, n_inf, n_nan`` in the ``case`` column. inf/NaN are written ``inf``/``nan``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["case", "target", *metrics])
    for record in records:
        writer.writerow([record["case"], record["target"], *(_csv_number(record[m]) for m in metrics)])
    for target, by_metric in summaries.items():
        for row in SUMMARY_ROWS:
            writer.writerow([row, target, *(_csv_number(getattr(by_metric[m], row)) for m in metrics)])
    return buffer.getvalue()


def records_to_json(
    records: Sequence[Record],
    summaries: Summaries,
    inf_value: float | None = None,
) -> dict[str, object]:
    """A JSON-ready dict: ``cases``, ``summary`` and the ``nonfinite_policy`` that was applied."""
    policy = (
        "NaN values are left out; inf values are left out"
        if inf_value is None
        else f"NaN values are left out; inf values are replaced by {inf_value}"
    )
    return {
        "cases": [dict(record) for record in records],
        "summary": {t: {m: s.to_dict() for m, s in by_metric.items()} for t, by_metric in summaries.items()},
        "nonfinite_policy": policy,
    }


def format_table(
    records: Sequence[Record], summaries: Summaries, metrics: Sequence[str]
) -> str:
    """A terminal table: per-case rows, then per target mean, sd, median, 95 % CI bounds, inf/NaN counts."""
    header = ["case", "target", *metrics]
    rows = [[str(r["case"]), str(r["target"]), *(_fmt(m, r[m]) for m in metrics)] for r in records]
    summary_rows = []
    for target, by_metric in summaries.items():
        summary_rows.append(["mean", target, *(_fmt(m, by_metric[m].mean) for m in metrics)])
        summary_rows.append(["sd", target, *(_fmt(m, by_metric[m].sd) for m in metrics)])
        summary_rows.append(["median", target, *(_fmt(m, by_metric[m].median) for m in metrics)])
        summary_rows.append(["ci95_low", target, *(_fmt(m, by_metric[m].ci95_low) for m in metrics)])
        summary_rows.append(["ci95_high", target, *(_fmt(m, by_metric[m].ci95_high) for m in metrics)])
        summary_rows.append(
            ["inf/NaN", target, *(f"{by_metric[m].n_inf}/{by_metric[m].n_nan}" for m in metrics)]
        )
    widths = [max(len(row[i]) for row in [header, *rows, *summary_rows]) for i in range(len(header))]
    lines = [_line(header, widths), "  ".join("-" * w for w in widths)]
    lines += [_line(row, widths) for row in rows]
    if summary_rows:
        lines.append("  ".join("-" * w for w in widths))
        lines += [_line(row, widths) for row in summary_rows]
    return "\n".join(lines)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    """Case and target left-aligned, numbers right-aligned."""
    pairs = enumerate(zip(cells, widths, strict=True))
    padded = [cell.ljust(width) if i < 2 else cell.rjust(width) for i, (cell, width) in pairs]
    return "  ".join(padded)


def _fmt(metric: str, value: Any) -> str:
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return str(number)
    return f"{number:.2f}" if metric in DISTANCE_METRICS or metric.startswith("volume") else f"{number:.4f}"


def _csv_number(value: object) -> str:
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
