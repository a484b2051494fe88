"""Small widget builders shared by the panels: buttons, status line, read-only tables, combos."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .qt_shim import prop, qt

STATUS_STYLES = {
    "info": "color: #333333;",
    "ok": "color: #1e7b34; font-weight: bold;",
    "warning": "color: #9a5b00; background: #fff4d6; border: 1px solid #e6c36a; border-radius: 3px;"
               " padding: 3px;",
    "error": "color: #a31515; background: #fde8e8; border: 1px solid #e3a0a0; border-radius: 3px;"
             " padding: 3px;",
}


def button(text: str, tooltip: str, on_click: Callable[[], None] | None = None) -> qt.QPushButton:
    """A push button with a tooltip; ``on_click`` receives no arguments."""
    widget = qt.QPushButton(text)
    widget.setToolTip(tooltip)
    if on_click is not None:
        widget.clicked.connect(lambda *_args: on_click())
    return widget


def combo(items: Sequence[str] = (), tooltip: str = "") -> qt.QComboBox:
    """A combo box holding ``items``."""
    widget = qt.QComboBox()
    for item in items:
        widget.addItem(item)
    widget.setToolTip(tooltip)
    widget.setSizePolicy(qt.QSizePolicy.Expanding, qt.QSizePolicy.Fixed)
    return widget


class StatusLine:
    """A word-wrapped label that shows one message in a severity colour."""

    def __init__(self) -> None:
        self.label = qt.QLabel()
        self.label.setWordWrap(True)
        self.label.setVisible(False)
        self.kind = ""
        self.text = ""

    def show(self, kind: str, text: str) -> None:
        """Show ``text`` as ``info``, ``ok``, ``warning`` or ``error``; empty text hides the line."""
        self.kind, self.text = kind, text
        self.label.setStyleSheet(STATUS_STYLES[kind])
        self.label.setText(text)
        self.label.setVisible(bool(text))

    def clear(self) -> None:
        """Hide the line."""
        self.show("info", "")


def readonly_table(columns: Sequence[str], tooltips: Sequence[str] | None = None) -> qt.QTableWidget:
    """A table for results: selectable rows, no editing, first column stretched, others fitted."""
    table = qt.QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    for index, tip in enumerate(tooltips or ()):
        table.horizontalHeaderItem(index).setToolTip(tip)
    fit_height(table)
    table.setEditTriggers(qt.QAbstractItemView.NoEditTriggers)
    table.setSelectionBehavior(qt.QAbstractItemView.SelectRows)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(qt.QHeaderView.ResizeToContents)
    header.setStretchLastSection(True)
    return table


def fill_table(table: qt.QTableWidget, rows: Sequence[Sequence[str]],
               colors: Sequence[tuple[float, float, float] | None] | None = None) -> None:
    """Replace the table's rows; an optional RGB (0..1) per row tints its first cell."""
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = qt.QTableWidgetItem(str(text))
            if c > 0:
                item.setTextAlignment(qt.Qt.AlignRight | qt.Qt.AlignVCenter)
            table.setItem(r, c, item)
        if colors is not None and colors[r] is not None:
            red, green, blue = (round(255 * v) for v in colors[r])
            table.item(r, 0).setIcon(color_icon(red, green, blue))
    table.resizeRowsToContents()
    fit_height(table)


def fit_height(table: qt.QTableWidget, min_rows: int = 2, max_rows: int = 8) -> None:
    """Size the table to its rows (between ``min_rows`` and ``max_rows``) instead of a fixed block."""
    count = prop(table, "rowCount")
    shown = [table.rowHeight(r) for r in range(min(count, max_rows))]
    shown += [prop(table.verticalHeader(), "defaultSectionSize")] * max(min_rows - len(shown), 0)
    # sizeHint is a Q_PROPERTY: PythonQt reads it as a QSize value, PySide6 as a method (prop handles both)
    scroll = prop(table.horizontalScrollBar(), "sizeHint").height()
    header = prop(table.horizontalHeader(), "sizeHint").height()
    height = header + sum(shown) + 2 * prop(table, "frameWidth") + scroll
    table.setMinimumHeight(height)
    table.setMaximumHeight(height)


def color_icon(red: int, green: int, blue: int, size: int = 12) -> qt.QIcon:
    """A small filled square icon for a segment colour."""
    pixmap = qt.QPixmap(size, size)
    pixmap.fill(qt.QColor(red, green, blue))
    return qt.QIcon(pixmap)


def table_rows(table: qt.QTableWidget) -> list[list[str]]:
    """The text of every cell, row by row (what a user sees)."""
    return [[prop(table.item(r, c), "text") if table.item(r, c) is not None else ""
             for c in range(prop(table, "columnCount"))] for r in range(prop(table, "rowCount"))]
