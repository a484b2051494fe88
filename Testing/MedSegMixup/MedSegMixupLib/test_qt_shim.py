"""The Qt shim outside Slicer: merged namespace, property access, collapsible sections."""

from __future__ import annotations

import pytest
from MedSegMixupLib import qt_shim
from MedSegMixupLib.qt_shim import collapsible_section, prop, qt

pytestmark = pytest.mark.gui


def test_outside_slicer_the_shim_uses_qt_py(qapp):
    assert not qt_shim.IN_SLICER
    from Qt import QtCore, QtWidgets

    assert qt.QTimer is QtCore.QTimer and qt.QPushButton is QtWidgets.QPushButton


def test_prop_reads_properties_like_pythonqt_attributes(qapp):
    box = qt.QComboBox()
    box.addItem("a")
    box.addItem("b")
    box.setCurrentIndex(1)
    assert prop(box, "currentText") == "b" and prop(box, "currentIndex") == 1

    class PythonQtLike:  # PythonQt exposes properties as plain attributes
        currentText = "c"

    assert prop(PythonQtLike(), "currentText") == "c"


def test_collapsible_section_folds(qtbot):
    section, body = collapsible_section("Title")
    qtbot.addWidget(section)
    section.show()
    assert body.isVisible()
    section.header.click()
    assert not body.isVisible()
    section.header.click()
    assert body.isVisible()
