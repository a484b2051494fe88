"""Shared fixtures: the real-data folder beside the project, and a headless Qt platform."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MEDSEG_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the Slicer stand-in driver first: it is the longest test (five stand-in processes), so in a
    parallel run (``make test`` uses pytest-xdist, one file per worker) it starts at once and the other
    worker takes the rest of the suite beside it."""
    items.sort(key=lambda item: "test_in_slicer_standin.py" not in item.nodeid)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that use it skip when it is missing."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is missing (set MEDSEG_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository root."""
    return PROJECT_ROOT


@pytest.fixture
def full_disk(tmp_path: Path):
    """A folder on a 16 KiB tmpfs, for writes that run out of space; skips where mounting is not
    allowed (needs root and a kernel that lets this process mount)."""
    import shutil
    import subprocess

    folder = tmp_path / "full"
    folder.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("a tiny filesystem needs root and mount(8): the full-disk case is not run here")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tiny tmpfs here ({mounted.stderr.strip()}): full-disk case not run")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)
