"""Merging the label maps of two ensembles through a table (B9, Henry et al. Table 1).

A :class:`MergeTable` maps each pair (label of map A, label of map B) to an output label; pairs
the table does not list take the ``default``: ``"a"`` (keep A's label, the paper's choice),
``"b"`` or a fixed value. The BraTS paper keeps pipeline A's NET (1) and ET (4) and lets
pipeline B decide between background and edema (2) where A says one of them:

=========  ===  ===  ===  ===
B \\ A      0    1    2    4
=========  ===  ===  ===  ===
0           0    1    0    4
1           0    1    2    4
2           2    1    2    4
4           0    1    2    4
=========  ===  ===  ===  ===

A table file (JSON or YAML) is either ``{"default": "a", "rules": [[a, b, out], ...]}`` or the
grid form ``{"a_values": [...], "b_values": [...], "table": [[...], ...]}`` with one row per B value,
as printed in the paper.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import parse_json, read_config_text


@dataclass(frozen=True)
class MergeTable:
    """``rules[(a, b)] -> out``; unlisted pairs take ``default`` (``"a"``, ``"b"`` or a label)."""

    rules: Mapping[tuple[int, int], int] = field(default_factory=dict)
    default: str | int = "a"

    def __post_init__(self) -> None:
        if not (self.default in ("a", "b") or (isinstance(self.default, int)
                                               and not isinstance(self.default, bool))):
            raise MedSegError(f"merge table: default must be 'a', 'b' or a label value, got {self.default!r}")

    @classmethod
    def from_grid(cls, a_values: list[int], b_values: list[int], table: list[list[int]],
                  default: str | int = "a") -> MergeTable:
        """The paper's layout: ``table[i][j]`` is the output for B = ``b_values[i]``, A = ``a_values[j]``."""
        if len(table) != len(b_values) or any(len(row) != len(a_values) for row in table):
            raise MedSegError(f"merge table: the grid must have {len(b_values)} rows (B values) of "
                              f"{len(a_values)} entries (A values)")
        rules = {(int(a), int(b)): int(row[j])
                 for b, row in zip(b_values, table, strict=True) for j, a in enumerate(a_values)}
        return cls(rules, default)

    @classmethod
    def from_dict(cls, data: Any, source: str = "merge table") -> MergeTable:
        """Read either file form (see the module docstring); errors name ``source``."""
        if not isinstance(data, Mapping):
            raise MedSegError(f"{source}: expected a mapping with 'rules' or 'table'")
        default = data.get("default", "a")
        try:
            if "table" in data:
                return cls.from_grid([int(v) for v in data["a_values"]], [int(v) for v in data["b_values"]],
                                     [[int(v) for v in row] for row in data["table"]], default)
            rules = {}
            for rule in data.get("rules", []):
                a, b, out = (int(v) for v in rule)
                rules[(a, b)] = out
            return cls(rules, default)
        except (KeyError, TypeError, ValueError) as exc:
            raise MedSegError(f"{source}: malformed merge table ({exc}); expected "
                              "{'rules': [[a, b, out], ...]} or {'a_values', 'b_values', 'table'}") from None

    def to_dict(self) -> dict[str, Any]:
        return {"default": self.default, "rules": [[a, b, out] for (a, b), out in sorted(self.rules.items())]}


BRATS_MERGE_TABLE = MergeTable.from_grid(
    a_values=[0, 1, 2, 4], b_values=[0, 1, 2, 4],
    table=[[0, 1, 0, 4],
           [0, 1, 2, 4],
           [2, 1, 2, 4],
           [0, 1, 2, 4]])
"""Henry et al. Table 1 with BraTS label values (0 background, 1 NET/NCR, 2 ED, 4 ET)."""


def load_merge_table(path: str | Path) -> MergeTable:
    """Read a merge table from a JSON or YAML file."""
    path = Path(path)
    text = read_config_text(path, "--merge-table")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = parse_json(text, f"--merge-table {path}")
    except MedSegError:
        raise
    except Exception as exc:
        raise MedSegError(f"{path}: not valid JSON/YAML ({exc})") from None
    return MergeTable.from_dict(data, str(path))


def merge_label_maps(a: np.ndarray, b: np.ndarray, table: MergeTable = BRATS_MERGE_TABLE) -> np.ndarray:
    """Merge label maps ``a`` and ``b`` (same shape) voxel by voxel through ``table``."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise MedSegError(f"merge: the label maps differ in shape {a.shape} vs {b.shape}")
    a_values, a_index = np.unique(a, return_inverse=True)
    b_values, b_index = np.unique(b, return_inverse=True)
    lut = np.empty((len(a_values), len(b_values)), dtype=np.result_type(a.dtype, b.dtype, np.min_scalar_type(
        max([abs(v) for v in table.rules.values()] + [0]))))
    for i, va in enumerate(a_values.tolist()):
        for j, vb in enumerate(b_values.tolist()):
            out = table.rules.get((va, vb))
            if out is None:
                out = va if table.default == "a" else vb if table.default == "b" else table.default
            lut[i, j] = out
    return lut[a_index.reshape(a.shape), b_index.reshape(b.shape)]
