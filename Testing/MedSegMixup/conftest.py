"""Make the scripted module's folder importable (as Slicer does) and share GUI-test helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

MODULE_DIR = Path(__file__).resolve().parents[2] / "MedSegMixup"
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "Resources" / "Screenshots"
if str(MODULE_DIR) not in sys.path:
    sys.path.insert(0, str(MODULE_DIR))


@pytest.fixture(scope="session")
def module_dir() -> Path:
    """``MedSegMixup/``, the scripted module's folder."""
    return MODULE_DIR


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where the GUI tests save panel screenshots for the docs."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR
