"""Mutation check: do the tests catch plausible one-line bugs?

Each entry of ``scripts/mutations.yaml`` (file, exact snippet, replacement, tests) is applied alone
to a temporary copy of the repository (``MedSegTrain/``, ``MedSegMixup/``, ``Testing/``,
``pyproject.toml``); the entry's tests run there with ``python -m pytest -x -q`` and the copy first
on ``PYTHONPATH``. A mutation is *killed* when the tests fail and *survives* when they pass.
Unmutated, every selected test must pass first (``--no-baseline`` skips that check), or a kill
would mean nothing.

    python scripts/mutation_check.py                    # every mutation, one at a time
    python scripts/mutation_check.py --only stats-,io-  # ids starting with stats- or io-
    python scripts/mutation_check.py --jobs 2 --report docs/mutation_report.md

A tool for whoever changes the tests, not part of ``make test`` (a full run takes minutes). Run it
niced on a shared machine: ``nice -n 10 .venv/bin/python scripts/mutation_check.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LIST = ROOT / "scripts" / "mutations.yaml"
COPIED = ("MedSegTrain", "MedSegMixup", "Testing", "pyproject.toml")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info")


@dataclass(frozen=True)
class Mutation:
    """One deliberate bug: replace ``find`` (present exactly once) in ``file`` by ``replace``."""

    id: str
    file: str
    find: str
    replace: str
    tests: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Outcome:
    mutation: Mutation
    status: str  # killed, survived, timeout (counted as killed), error (the mutation did not apply)
    seconds: float
    detail: str = ""


def load_mutations(path: Path = DEFAULT_LIST) -> list[Mutation]:
    """The list in ``path``; raises ValueError naming the entry when one is malformed."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutations, seen = [], set()
    for entry in entries:
        missing = {"id", "file", "find", "replace", "tests", "why"} - set(entry)
        if missing:
            raise ValueError(f"{path}: entry {entry.get('id', '?')} lacks {sorted(missing)}")
        if entry["id"] in seen:
            raise ValueError(f"{path}: id {entry['id']} appears twice")
        seen.add(entry["id"])
        mutations.append(Mutation(entry["id"], entry["file"], entry["find"], entry["replace"],
                                  tuple(entry["tests"]), entry["why"]))
    return mutations


def problem(mutation: Mutation, root: Path = ROOT) -> str | None:
    """Why ``mutation`` cannot be applied to the tree at ``root`` (None when it can)."""
    source = root / mutation.file
    if not source.is_file():
        return f"{mutation.file}: no such file"
    count = source.read_text(encoding="utf-8").count(mutation.find)
    if count != 1:
        return f"{mutation.file}: the snippet occurs {count} times (needs exactly 1)"
    if mutation.find == mutation.replace:
        return "the replacement equals the snippet"
    for test in mutation.tests:
        if not (root / test.split("::")[0]).exists():
            return f"test {test}: no such file"
    return None


def make_copy(parent: Path) -> Path:
    """A fresh copy of the parts of the repository the tests need."""
    copy = Path(tempfile.mkdtemp(prefix="medseg-mutant-", dir=parent))
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=IGNORED)
        else:
            shutil.copy2(source, copy / name)
    return copy


def run_tests(copy: Path, tests: tuple[str, ...], timeout: float) -> tuple[int | None, str]:
    """pytest's exit status for ``tests`` in ``copy`` (None on timeout) and its last output line."""
    env = {**os.environ, "PYTHONPATH": str(copy), "QT_QPA_PLATFORM": "offscreen",
           "OMP_WAIT_POLICY": "PASSIVE", "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header",
               "-m", "not benchmark", *tests]
    try:
        done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:g} s"
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return done.returncode, lines[-1] if lines else ""


def check_copy_is_imported(copy: Path) -> None:
    """Stop when the copy's MedSegTrain is not the one Python imports (the editable install wins)."""
    code = "import MedSegTrain, sys; sys.stdout.write(MedSegTrain.__file__)"
    found = subprocess.run([sys.executable, "-c", code], cwd=copy, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(copy)}, check=True).stdout
    if not Path(found).resolve().is_relative_to(copy.resolve()):
        raise SystemExit(f"mutation check: MedSegTrain is imported from {found}, not from the copy {copy}")


def mutate(copy: Path, mutation: Mutation, timeout: float) -> Outcome:
    """Apply ``mutation`` in ``copy``, run its tests, restore the file."""
    started = time.monotonic()
    reason = problem(mutation, copy)
    if reason:
        return Outcome(mutation, "error", 0.0, reason)
    path = copy / mutation.file
    original = path.read_text(encoding="utf-8")
    path.write_text(original.replace(mutation.find, mutation.replace), encoding="utf-8")
    try:
        status, last = run_tests(copy, mutation.tests, timeout)
    finally:
        path.write_text(original, encoding="utf-8")
    seconds = time.monotonic() - started
    if status is None:
        return Outcome(mutation, "timeout", seconds, last)
    if status == 5:
        return Outcome(mutation, "error", seconds, "no tests were collected")
    return Outcome(mutation, "survived" if status == 0 else "killed", seconds, last)


def baseline(copy: Path, mutations: list[Mutation], timeout: float) -> None:
    """Every selected test passes on the unmutated copy; otherwise stop and say which failed."""
    tests = tuple(dict.fromkeys(t for m in mutations for t in m.tests))
    status, last = run_tests(copy, tests, timeout * 4)
    if status != 0:
        raise SystemExit(f"mutation check: the selected tests fail without any mutation ({last}); "
                         "fix that first")


def report(outcomes: list[Outcome]) -> str:
    """A markdown table of the outcomes and the kill rate (timeouts count as killed)."""
    killed = sum(o.status in ("killed", "timeout") for o in outcomes)
    valid = sum(o.status != "error" for o in outcomes)
    rate = 100.0 * killed / valid if valid else 0.0
    lines = [f"Mutations: {len(outcomes)}; killed {killed} of {valid} ({rate:.1f} %); "
             f"survived {sum(o.status == 'survived' for o in outcomes)}; "
             f"not applied {len(outcomes) - valid}.", "",
             "| mutation | file | bug | result | s |", "|---|---|---|---|---|"]
    for o in outcomes:
        lines.append(f"| `{o.mutation.id}` | `{o.mutation.file}` | {o.mutation.why} | "
                     f"{o.status} | {o.seconds:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", type=Path, default=DEFAULT_LIST, help="the mutation list (YAML)")
    parser.add_argument("--only", default="", help="run the mutations whose id starts with one of these "
                        "comma-separated prefixes")
    parser.add_argument("--jobs", type=int, default=1, help="mutations run side by side (one copy each)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutation's tests")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    parser.add_argument("--report", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)
    prefixes = tuple(args.only.split(","))
    mutations = [m for m in load_mutations(args.list) if m.id.startswith(prefixes)]
    if not mutations:
        raise SystemExit(f"mutation check: no mutation id starts with {args.only!r}")
    with tempfile.TemporaryDirectory(prefix="medseg-mutation-") as scratch:
        copies = [make_copy(Path(scratch)) for _ in range(max(1, args.jobs))]
        check_copy_is_imported(copies[0])
        if not args.no_baseline:
            baseline(copies[0], mutations, args.timeout)
        groups = [mutations[i::len(copies)] for i in range(len(copies))]

        def work(index: int) -> list[Outcome]:
            outcomes = []
            for mutation in groups[index]:
                outcome = mutate(copies[index], mutation, args.timeout)
                print(f"{outcome.status:8s} {outcome.seconds:6.1f} s  {mutation.id}  {outcome.detail}",
                      flush=True)
                outcomes.append(outcome)
            return outcomes

        with ThreadPoolExecutor(len(copies)) as pool:
            done = {o.mutation.id: o for result in pool.map(work, range(len(copies))) for o in result}
    outcomes = [done[m.id] for m in mutations]
    text = report(outcomes)
    print("\n" + text)
    if args.report:
        args.report.write_text(text, encoding="utf-8")
    return 1 if any(o.status in ("survived", "error") for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
