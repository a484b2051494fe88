"""Make the scripted module's folder importable (as Slicer does) and share GUI-test helpers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

MODULE_DIR = Path(__file__).resolve().parents[2] / "MedSegMixup"
SCREENSHOT_ENV = "MEDSEG_SCREENSHOT_DIR"  # `make screenshots` points it at Resources/Screenshots
for folder in (MODULE_DIR, Path(__file__).resolve().parent):  # MedSegMixupLib, and medsegmixup_bundles.py
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


@pytest.fixture(scope="session")
def module_dir() -> Path:
    """``MedSegMixup/``, the scripted module's folder."""
    return MODULE_DIR


@pytest.fixture(scope="session")
def screenshot(tmp_path_factory: pytest.TempPathFactory):
    """``screenshot(widget, name)``: save ``widget`` as ``<dir>/<name>.png`` and return the path.

    ``<dir>`` is ``$MEDSEG_SCREENSHOT_DIR`` when set (``make screenshots`` refreshes the docs'
    ``Resources/Screenshots`` that way), else a temporary folder, so a test run leaves the
    checkout clean. A top-level widget is first shown at a Slicer module-panel width and its
    natural height, a child is captured as laid out in its parent."""
    from MedSegMixupLib.qt_shim import process_events, save_widget_png

    target = os.environ.get(SCREENSHOT_ENV)
    folder = Path(target) if target else tmp_path_factory.mktemp("screenshots")

    def take(widget, name: str, width: int = 520) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if widget.parentWidget() is None:  # a top-level panel: give it a module-panel geometry
            widget.show()
            process_events()
            widget.resize(width, max(widget.sizeHint().height(), widget.minimumSizeHint().height()))
        process_events()
        path = folder / f"{name}.png"
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
