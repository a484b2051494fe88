"""Choosing a workspace item (volume, segmentation) in a combo box, by ID rather than by name.

Inside Slicer the chooser wraps a ``qMRMLNodeComboBox`` (``slicer_scene.NodeChooser``), so the
user picks a node and two nodes with the same name stay distinct. Outside Slicer
:class:`ItemChooser` offers the same small interface over a plain combo box whose item data are
the IDs.
"""

from __future__ import annotations

from collections.abc import Callable

from .qt_shim import prop, qt

Items = Callable[[], list[tuple[str, str]]]  # () -> [(item ID, shown name)]


class ItemChooser:
    """A combo box of (ID, name) items; the current item is read and set by ID."""

    def __init__(self, items: Items, tooltip: str = "") -> None:
        self._items = items
        self.widget = qt.QComboBox()
        self.widget.setToolTip(tooltip)
        self.widget.setSizePolicy(qt.QSizePolicy.Expanding, qt.QSizePolicy.Fixed)
        self._callbacks: list[Callable[[], None]] = []
        self._activated: list[Callable[[], None]] = []
        self.widget.currentIndexChanged.connect(lambda *_args: self._changed())
        self.widget.activated.connect(lambda *_args: self._user_picked())
        self.refresh()

    def refresh(self) -> None:
        """Re-read the items, keeping the current one selected while it exists."""
        current = self.current_id()
        self.widget.blockSignals(True)
        self.widget.clear()
        for item_id, name in self._items():
            self.widget.addItem(name, item_id)
        index = self.widget.findData(current) if current else -1
        self.widget.setCurrentIndex(index if index >= 0 else (0 if prop(self.widget, "count") else -1))
        self.widget.blockSignals(False)
        if self.current_id() != current:
            self._changed()

    def current_id(self) -> str:
        """The chosen item's ID, ``""`` when nothing is chosen."""
        index = prop(self.widget, "currentIndex")
        return str(self.widget.itemData(index)) if index >= 0 else ""

    def select(self, item_id: str) -> bool:
        """Choose ``item_id``; False when the list lacks it."""
        index = self.widget.findData(item_id)
        if index >= 0:
            self.widget.setCurrentIndex(index)
        return index >= 0


    def on_changed(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when the chosen item changes."""
        self._callbacks.append(callback)

    def on_activated(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` when the user picks an item (not on programmatic changes)."""
        self._activated.append(callback)

    def _user_picked(self) -> None:
        for callback in list(self._activated):
            callback()

    def _changed(self) -> None:
        for callback in list(self._callbacks):
            callback()
