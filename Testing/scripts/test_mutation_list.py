"""scripts/mutations.yaml stays usable: every mutation applies to today's code, every package has some.

The mutation run itself takes minutes and is not part of the suite (docs/testing.md); this only
catches a list that drifted from the code (a snippet edited away) or a package left uncovered.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("mutation_check", ROOT / "scripts" / "mutation_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_mutation_applies_to_the_current_code() -> None:
    tool = _tool()
    problems = {m.id: tool.problem(m) for m in tool.load_mutations()}
    assert {k: v for k, v in problems.items() if v} == {}


def test_every_package_and_the_slicer_lib_have_mutations() -> None:
    mutated = {m.file for m in _tool().load_mutations()}
    packages = {p.parent.name for p in (ROOT / "MedSegTrain").glob("*/__init__.py")}
    wanted = {f"MedSegTrain/{p}/" for p in packages} | {
        "MedSegTrain/io.py", "MedSegTrain/stats.py", "MedSegTrain/fileutil.py",
        "MedSegMixup/MedSegMixupLib/",
    }
    assert {w for w in wanted if not any(f.startswith(w) for f in mutated)} == set()
