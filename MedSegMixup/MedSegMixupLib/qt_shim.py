"""The one place panel code gets Qt from: PythonQt's ``qt`` inside Slicer, Qt.py outside.

Outside Slicer the classes of QtCore, QtGui and QtWidgets are merged into one namespace so that
panel code reads exactly like Slicer code (``qt.QPushButton``, ``qt.QTimer``, ``qt.Qt.AlignLeft``).
The few calls whose signatures differ between PythonQt and PySide6 are wrapped here.
"""

from __future__ import annotations

import importlib.util
import types


def _inside_slicer() -> bool:
    """True in Slicer's embedded Python (``slicer.app`` exists; a PyPI package named slicer has none)."""
    if importlib.util.find_spec("slicer") is None or importlib.util.find_spec("qt") is None:
        return False
    import slicer

    return hasattr(slicer, "app")


IN_SLICER = _inside_slicer()

if IN_SLICER:
    import qt  # PythonQt: every Qt class in one module
else:
    from Qt import QtCore, QtGui, QtWidgets

    qt = types.SimpleNamespace()
    for _module in (QtCore, QtGui, QtWidgets):
        for _name in dir(_module):
            if _name.startswith("Q"):
                setattr(qt, _name, getattr(_module, _name))
    qt.Qt = QtCore.Qt
    del _module, _name


def process_events() -> None:
    """Let Qt handle pending events (used while waiting in tests and the Slicer self-test)."""
    qt.QApplication.processEvents()


def open_file_name(parent, caption: str, file_filter: str = "") -> str:
    """A file chosen in an open dialog, "" when cancelled (PySide returns a tuple, PythonQt a str)."""
    result = qt.QFileDialog.getOpenFileName(parent, caption, "", file_filter)
    return result[0] if isinstance(result, tuple) else (result or "")


def save_file_name(parent, caption: str, file_filter: str = "") -> str:
    """A file chosen in a save dialog, "" when cancelled."""
    result = qt.QFileDialog.getSaveFileName(parent, caption, "", file_filter)
    return result[0] if isinstance(result, tuple) else (result or "")


def existing_directory(parent, caption: str) -> str:
    """A folder chosen in a dialog, "" when cancelled."""
    return qt.QFileDialog.getExistingDirectory(parent, caption) or ""


def pixmap_from_png(png: bytes):
    """A QPixmap decoded from PNG bytes (avoids binding-specific raw-buffer QImage constructors)."""
    pixmap = qt.QPixmap()
    pixmap.loadFromData(qt.QByteArray(png))
    return pixmap


def collapsible_section(title: str, collapsed: bool = False):
    """A titled section that folds away: ctkCollapsibleButton in Slicer, a header + body outside.

    Returns ``(section, body)``: add ``section`` to a layout and give ``body`` the content layout.
    """
    if IN_SLICER:
        import ctk

        button = ctk.ctkCollapsibleButton()
        button.text = title
        button.collapsed = collapsed
        return button, button
    section = qt.QWidget()
    outer = qt.QVBoxLayout(section)
    outer.setContentsMargins(0, 2, 0, 2)
    outer.setSpacing(2)
    header = qt.QToolButton()
    header.setText(title)
    header.setCheckable(True)
    header.setChecked(not collapsed)
    header.setToolButtonStyle(qt.Qt.ToolButtonTextBesideIcon)
    header.setArrowType(qt.Qt.DownArrow if not collapsed else qt.Qt.RightArrow)
    header.setSizePolicy(qt.QSizePolicy.Expanding, qt.QSizePolicy.Fixed)
    header.setStyleSheet(
        "QToolButton { font-weight: bold; text-align: left; padding: 4px 6px; border: 1px solid #b8b8b8;"
        " border-radius: 3px; background: qlineargradient(x1:0, y1:0, x2:0, y2:1, stop:0 #f6f6f6,"
        " stop:1 #e2e2e2); }")
    body = qt.QFrame()
    body.setFrameShape(qt.QFrame.StyledPanel)
    body.setVisible(not collapsed)

    def toggle(checked: bool) -> None:
        body.setVisible(checked)
        header.setArrowType(qt.Qt.DownArrow if checked else qt.Qt.RightArrow)

    header.toggled.connect(toggle)
    outer.addWidget(header)
    outer.addWidget(body)
    section.header = header
    return section, body


def save_widget_png(widget, path: str) -> bool:
    """Render ``widget`` (shown or not) into a PNG file; True on success."""
    return bool(widget.grab().save(str(path), "PNG"))


def prop(obj, name: str):
    """Read a Qt property the same way in both bindings.

    PythonQt exposes a property whose getter has the same name (``text``, ``currentText``,
    ``currentIndex``, ``value``, ``rowCount``) as a plain attribute; PySide6 as a method.
    """
    value = getattr(obj, name)
    return value() if callable(value) else value
