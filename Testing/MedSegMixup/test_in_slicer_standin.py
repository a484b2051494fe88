"""Run the in-Slicer suite (Testing/MedSegMixup/in_slicer) inside Slicer stand-in processes.

One subprocess per mode: the full backend with Slicer 5.12 and 5.10; the extension just installed in
Slicer 5.12 and 5.10 (MedSegTrain bundled, torch and the other third-party packages not installed yet);
and a freshly installed Slicer 5.12 (no torch, no MedSegTrain: the repository root is not on the path
and standin_config hides them).
The subprocess gets its own pytest configuration (``-c`` the null device, rootdir and confcutdir the
in_slicer folder) so the repository's pytest options and conftests stay out of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "Testing" / "MedSegMixup" / "slicer_standin" / "site"
IN_SLICER = REPO / "Testing" / "MedSegMixup" / "in_slicer"
NO_TESTS_COLLECTED = 5  # pytest.ExitCode.NO_TESTS_COLLECTED
# what a Slicer without the extension's Python packages lacks (import and distribution names)
THIRD_PARTY = "torch,monai,safetensors,yaml,PyYAML,tqdm,matplotlib"


def standin_env(backend: str, version: str) -> dict[str, str]:
    """The environment of a stand-in process: site first on the path, like Slicer's Python path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDSEG_STANDIN_") and k != "PYTHONPATH"}
    paths = [SITE, REPO / "MedSegMixup"] + ([REPO] if backend == "full" else [])
    env.update(
        PYTHONPATH=os.pathsep.join(str(p) for p in paths),
        MEDSEG_SLICER_STANDIN="1",
        QT_QPA_PLATFORM="offscreen",
        MEDSEG_STANDIN_SLICER_VERSION=version,
    )
    if backend == "fresh":
        env["MEDSEG_STANDIN_FRESH"] = "1"
    if backend == "extension":
        env["MEDSEG_STANDIN_MISSING"] = THIRD_PARTY
    return env


MODES = [("full", "5.12.3"), ("full", "5.10.0"), ("extension", "5.12.3"), ("extension", "5.10.0"),
         ("fresh", "5.12.3")]
COMMAND = [sys.executable, "-m", "pytest", str(IN_SLICER), "-c", os.devnull, "--rootdir", str(IN_SLICER),
           "--confcutdir", str(IN_SLICER), "-p", "no:cacheprovider", "-q", "-ra",
           # a fresh Slicer has no xdist, nor anyio/jaxtyping (pulled in by the bench extra): their
           # plugins stay out of the stand-in process (pytest-qt, which the tests use, stays in)
           "-p", "no:xdist", "-p", "no:xdist.looponfail", "-p", "no:anyio", "-p", "no:jaxtyping"]


@pytest.fixture(scope="module")
def suite_runs() -> dict[tuple[str, str], subprocess.CompletedProcess]:
    """Every mode's stand-in run, as many side by side as there are cores (each is one process)."""

    def run(mode: tuple[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run(COMMAND, cwd=IN_SLICER, env=standin_env(*mode), capture_output=True, text=True,
                              timeout=900)

    with ThreadPoolExecutor(max_workers=max(1, min(len(MODES), os.cpu_count() or 1))) as pool:
        return dict(zip(MODES, pool.map(run, MODES), strict=True))


@pytest.mark.gui
@pytest.mark.timeout(1800)  # the module fixture runs all five modes inside the first test's setup
@pytest.mark.parametrize(("backend", "version"), MODES)
def test_in_slicer_suite(backend: str, version: str, suite_runs) -> None:
    proc = suite_runs[(backend, version)]
    output = f"$ {' '.join(COMMAND)}\n{proc.stdout}\n{proc.stderr}"
    assert proc.returncode != NO_TESTS_COLLECTED, (
        f"no in-Slicer test was collected ({backend}, {version}):\n{output}"
    )
    assert proc.returncode == 0, f"in-Slicer suite failed ({backend}, Slicer {version}):\n{output}"
