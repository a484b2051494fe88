"""Harness of the tests that run inside a Slicer stand-in process (see ../slicer_standin/README.md).

Outside such a process (``MEDSEG_SLICER_STANDIN`` unset, e.g. the repository's normal suite) nothing
here is collected: ``test_in_slicer_standin.py`` starts the stand-in processes that run these tests.
Inside, ``import slicer`` creates ``slicer.app`` (the QApplication) before any widget, and each test
starts and ends with a cleared scene, no scripted dialog answers and testing mode off; a test fails
when it leaves an unexpected dialog, an unused scripted answer or an exception raised in a Qt slot.
"""

from __future__ import annotations

import os

import pytest

IN_STANDIN = os.environ.get("MEDSEG_SLICER_STANDIN") == "1"

if not IN_STANDIN:
    collect_ignore_glob = ["*"]
else:
    import qt
    import slicer
    from slicer import _mrml

    def pytest_configure(config: pytest.Config) -> None:
        for marker in (
            "gui: Qt widgets",
            "slow: long-running",
            "realdata: needs ../shared/data",
            "benchmark: performance comparisons",
        ):
            config.addinivalue_line("markers", marker)

    def _reset_scene() -> None:
        """The scene of a freshly started Slicer: singletons (parameter nodes) removed too, then the
        start-up nodes (default colors, slice composites, the subject hierarchy) back."""
        slicer.mrmlScene.Clear(1)
        _mrml.add_default_nodes(slicer.mrmlScene)
        slicer.mrmlScene.GetSubjectHierarchyNode()

    @pytest.fixture(autouse=True)
    def _standin_state():
        """Fresh scene, dialogs and testing mode per test; fail on what the user would have noticed."""
        _reset_scene()
        qt.dialogs.reset()
        qt.slotErrors.clear()
        slicer.app._setTestingEnabled(False)
        yield
        unexpected, pending = list(qt.dialogs.unexpected), qt.dialogs.pending()
        slotErrors = list(qt.slotErrors)
        qt.dialogs.reset()
        qt.slotErrors.clear()
        slicer.app._setTestingEnabled(False)
        _reset_scene()
        assert not unexpected, f"modal dialogs shown with no scripted answer: {unexpected}"
        assert not pending, f"{pending} scripted dialog answer(s) were never used"
        assert not slotErrors, "exceptions raised in Qt slots:\n" + "\n".join(slotErrors)

    @pytest.fixture
    def scene():
        """``slicer.mrmlScene`` (cleared before and after the test)."""
        return slicer.mrmlScene

    @pytest.fixture
    def dialogs():
        """``qt.dialogs``: ``answer(value, kind=None)`` queues answers, ``shown`` records every popup."""
        return qt.dialogs
