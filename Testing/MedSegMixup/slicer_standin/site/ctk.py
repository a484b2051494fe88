"""Stand-in for Slicer's ``ctk`` module: the CTK widgets scripted modules commonly use.

CTK is not mirrored here; the Q_PROPERTYs below are the well-known ones of CTK's headers
(Libs/Widgets/ctkCollapsibleButton.h, ctkPathLineEdit.h, ctkSliderWidget.h), declared as real Qt
properties so that PythonQt's property-as-value semantics (see ``qt``) apply to them.
"""

from __future__ import annotations

import qt
from PySide6.QtCore import Property, Qt, Signal
from PySide6.QtWidgets import QAbstractButton, QFrame, QHBoxLayout, QLineEdit, QSizePolicy, QWidget


def _stored(type_: object, key: str) -> Property:
    """A Q_PROPERTY kept in the widget's private ``_state`` dict."""

    def write(self: QWidget, value: object) -> None:
        self._state[key] = value

    return Property(type_, lambda self: self._state[key], write)


@qt.cpp_class
class ctkCollapsibleButton(QAbstractButton):
    """ctkCollapsibleButton: a checkable header button; collapsing hides its child widgets.

    ``checked`` and ``collapsed`` are each other's negation (ctkCollapsibleButton.cpp ``onToggled``).
    """

    contentsCollapsed = Signal(bool)

    def __init__(self, *args: object):
        text = args[0] if args and isinstance(args[0], str) else ""
        parent = args[-1] if args and isinstance(args[-1], QWidget) else None
        super().__init__(parent)
        qt.cpp_setattr(
            self,
            "_state",
            {
                "collapsedHeight": 14,
                "shape": QFrame.Shape.NoFrame,
                "shadow": QFrame.Shadow.Plain,
                "lineWidth": 1,
                "midLineWidth": 0,
                "flat": False,
                "align": Qt.AlignmentFlag.AlignLeft,
            },
        )
        self.setText(text)
        self.setCheckable(True)
        self.setChecked(True)
        self.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Preferred)
        self.toggled.connect(self._onToggled)

    def _onToggled(self, checked: bool) -> None:
        for child in self.children():
            if isinstance(child, QWidget):
                child.setVisible(checked)
        self.contentsCollapsed.emit(not checked)

    def _collapsed(self) -> bool:
        return not self.isChecked()

    def _setCollapsed(self, collapsed: bool) -> None:
        self.setChecked(not collapsed)

    collapsed = Property(bool, _collapsed, _setCollapsed)
    collapsedHeight = _stored(int, "collapsedHeight")
    contentsFrameShape = _stored(QFrame.Shape, "shape")
    contentsFrameShadow = _stored(QFrame.Shadow, "shadow")
    contentsLineWidth = _stored(int, "lineWidth")
    contentsMidLineWidth = _stored(int, "midLineWidth")
    flat = _stored(bool, "flat")
    buttonTextAlignment = _stored(Qt.AlignmentFlag, "align")

    def paintEvent(self, event: object) -> None:
        """QAbstractButton::paintEvent is pure virtual; nothing to draw offscreen."""


@qt.cpp_class
class ctkPathLineEdit(QWidget):
    """ctkPathLineEdit: a line edit with a browse button; ``currentPath`` is its Q_PROPERTY."""

    # ctkPathLineEdit::Filter mirrors QDir::Filter
    Dirs, Files, Drives, NoSymLinks, AllEntries = 0x001, 0x002, 0x004, 0x008, 0x007
    Readable, Writable, Executable, Hidden, System = 0x010, 0x020, 0x040, 0x100, 0x200

    currentPathChanged = Signal(str)
    validInputChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        edit = QLineEdit(self)
        QHBoxLayout(self).addWidget(edit)
        qt.cpp_setattr(self, "_edit", edit)
        qt.cpp_setattr(
            self,
            "_state",
            {
                "filters": self.AllEntries,
                "nameFilters": [],
                "label": "",
                "settingKey": "",
                "browse": True,
                "history": True,
            },
        )
        edit.textChanged.connect(self.currentPathChanged.emit)

    def _currentPath(self) -> str:
        return self._edit.text  # PythonQt semantics hold inside the stand-in too

    def _setCurrentPath(self, path: str) -> None:
        self._edit.text = path

    def setCurrentPath(self, path: str) -> None:
        self._setCurrentPath(path)

    def addCurrentPathToHistory(self) -> None:
        """History is not kept by the stand-in."""

    currentPath = Property(str, _currentPath, _setCurrentPath, notify=currentPathChanged)
    filters = _stored(int, "filters")
    nameFilters = _stored(list, "nameFilters")
    label = _stored(str, "label")
    settingKey = _stored(str, "settingKey")
    showBrowseButton = _stored(bool, "browse")
    showHistoryButton = _stored(bool, "history")
