"""Plain Markdown and terminal tables (no third-party table library needed)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def format_number(value: object, digits: int = 3) -> str:
    """Numbers to fixed digits; inf and NaN spelled out; other values as text."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table; numeric columns right-aligned."""
    cells = [[format_number(v, digits) for v in row] for row in rows]
    numeric = [all(isinstance(row[i], int | float) for row in rows) if rows else False
               for i in range(len(header))]
    align = ["---:" if n else ":---" for n in numeric]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[object]], digits: int = 3) -> str:
    """A fixed-width table for the terminal."""
    cells = [list(header)] + [[format_number(v, digits) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                              strict=True)))
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
