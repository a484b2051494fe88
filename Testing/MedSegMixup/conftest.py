"""Make the scripted module's folder importable (as Slicer does) and share GUI-test helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

MODULE_DIR = Path(__file__).resolve().parents[2] / "MedSegMixup"
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "Resources" / "Screenshots"
for folder in (MODULE_DIR, Path(__file__).resolve().parent):  # MedSegMixupLib, and medsegmixup_bundles.py
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


@pytest.fixture(scope="session")
def module_dir() -> Path:
    """``MedSegMixup/``, the scripted module's folder."""
    return MODULE_DIR


@pytest.fixture(scope="session")
def screenshot():
    """``screenshot(widget, name)``: save ``widget`` as ``Resources/Screenshots/<name>.png`` (for the
    docs) and return the path; a top-level widget is first shown at a Slicer module-panel width and
    its natural height, a child is captured as laid out in its parent."""
    from MedSegMixupLib.qt_shim import process_events, save_widget_png

    def take(widget, name: str, width: int = 520) -> Path:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        if widget.parentWidget() is None:  # a top-level panel: give it a module-panel geometry
            widget.show()
            process_events()
            widget.resize(width, max(widget.sizeHint().height(), widget.minimumSizeHint().height()))
        process_events()
        path = SCREENSHOT_DIR / f"{name}.png"
        assert save_widget_png(widget, path), f"cannot write {path}"
        return path

    return take


@pytest.fixture(scope="session")
def make_bundle():
    """``make_bundle(path, labels=None, channels=("T2",), members=2) -> Path``: a valid tiny bundle."""
    from medsegmixup_bundles import write_bundle

    return write_bundle


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, make_bundle) -> Path:
    """An untrained two-member prostate bundle (labels and channels like the real test bundle)."""
    return make_bundle(tmp_path_factory.mktemp("bundles") / "tiny")
