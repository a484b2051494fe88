"""Windowing panel: MedSegTrain's named presets (C1) or a custom W/L, applied to the display.

The list is the backend's own ``MedSegTrain.preprocessing.windowing`` presets, so what is shown
on screen is the window a model was trained with. The panel shows the selected model's preset
and warns when the display differs from it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .i18n import _
from .imaging import encode_png, windowed_grey
from .qt_shim import collapsible_section, pixmap_from_png, prop, qt
from .ui import StatusLine, combo, set_combo_items

CUSTOM = "custom"


class WindowingPanel(qt.QWidget):
    """Choose a preset, see its window/level and a preview, compare with the model's window."""

    def __init__(self, workspace, parent=None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.preset_callbacks: list[Callable[[str], None]] = []
        self._presets: dict[str, object] = {}
        self._model_window: str | None = None
        self._applied_to: str | None = None
        self._updating = False
        self._build()
        self.reload_presets()
        workspace.subscribe(self.refresh)
        self.refresh()

    def _build(self) -> None:
        layout = qt.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        section, body = collapsible_section(_("Windowing"))
        form = qt.QFormLayout(body)
        self.volume_combo = combo(tooltip=_("Volume whose display window is set"))
        self.volume_combo.currentIndexChanged.connect(lambda *_args: self.apply())
        form.addRow(_("Volume:"), self.volume_combo)
        self.preset_combo = combo(tooltip=_("Named windows of MedSegTrain; the same presets the models "
                                            "were trained with"))
        self.preset_combo.currentIndexChanged.connect(lambda *_args: self._preset_chosen())
        form.addRow(_("Preset:"), self.preset_combo)
        wl = qt.QHBoxLayout()
        self.window_spin = qt.QDoubleSpinBox()
        self.window_spin.setRange(1.0, 100000.0)
        self.window_spin.setDecimals(1)
        self.window_spin.setToolTip(_("Window width (intensity units, HU for CT)"))
        self.level_spin = qt.QDoubleSpinBox()
        self.level_spin.setRange(-100000.0, 100000.0)
        self.level_spin.setDecimals(1)
        self.level_spin.setToolTip(_("Window centre"))
        for spin in (self.window_spin, self.level_spin):
            spin.valueChanged.connect(lambda *_args: self._custom_edited())
        wl.addWidget(qt.QLabel(_("W")))
        wl.addWidget(self.window_spin)
        wl.addWidget(qt.QLabel(_("L")))
        wl.addWidget(self.level_spin)
        form.addRow(_("Window / level:"), wl)
        self.range_label = qt.QLabel("–")
        self.range_label.setToolTip(_("Intensities below are shown black, above white"))
        form.addRow(_("Shown range:"), self.range_label)
        self.model_label = qt.QLabel(_("no model selected"))
        self.model_label.setToolTip(_("The preset the selected model bundle was trained with"))
        form.addRow(_("Model trained with:"), self.model_label)
        self.preview = qt.QLabel()
        self.preview.setAlignment(qt.Qt.AlignCenter)
        self.preview.setMinimumHeight(160)
        self.preview.setToolTip(_("Middle axial slice with the chosen window"))
        form.addRow(_("Preview:"), self.preview)
        self.status = StatusLine()
        form.addRow(self.status.label)
        layout.addWidget(section)

    # --------------------------------------------------------------- presets
    def reload_presets(self) -> None:
        """Fill the preset list from MedSegTrain (an error line when the backend is missing)."""
        try:
            from MedSegTrain.preprocessing.windowing import list_presets
        except ImportError as exc:
            self.status.show("error", _("Window presets need the MedSegTrain backend: ") + str(exc))
            return
        self._presets = {preset.name: preset for preset in list_presets()}
        self.preset_combo.blockSignals(True)
        self.preset_combo.clear()
        for preset in self._presets.values():
            self.preset_combo.addItem(preset.label or preset.name, preset.name)
            self.preset_combo.setItemData(prop(self.preset_combo, "count") - 1, preset.reference,
                                          qt.Qt.ToolTipRole)
        self.preset_combo.addItem(_("Custom window/level"), CUSTOM)
        self.preset_combo.blockSignals(False)
        self._preset_chosen()

    def preset_name(self) -> str:
        """The chosen preset's name (``custom`` for the W/L fields)."""
        index = prop(self.preset_combo, "currentIndex")
        return str(self.preset_combo.itemData(index)) if index >= 0 else CUSTOM

    def select_preset(self, name: str) -> bool:
        """Choose preset ``name``; False when the list lacks it."""
        index = self.preset_combo.findData(name)
        if index < 0:
            return False
        self.preset_combo.setCurrentIndex(index)
        return True

    def current_preset(self):
        """The chosen ``WindowPreset`` (a custom one built from the W/L fields)."""
        from MedSegTrain.preprocessing.windowing import WindowPreset

        name = self.preset_name()
        if name == CUSTOM:
            return WindowPreset.custom(prop(self.window_spin, "value"), prop(self.level_spin, "value"))
        return self._presets[name]

    def set_model_window(self, name: str | None) -> None:
        """Show the preset the selected model was trained with (None: no model selected)."""
        self._model_window = name
        if name is None:
            self.model_label.setText(_("no model selected"))
        else:
            preset = self._presets.get(name)
            self.model_label.setText(preset.label if preset is not None else name)
        self._check_model_window()

    # --------------------------------------------------------------- behaviour
    def refresh(self) -> None:
        """Follow the workspace's volume list; the display is only set when the shown volume changes,
        so window/level changes made elsewhere (Slicer's W/L mouse mode) are not overridden."""
        set_combo_items(self.volume_combo, self.workspace.volume_names())
        if prop(self.volume_combo, "currentText") != self._applied_to:
            self.apply()

    def select_volume(self, name: str) -> None:
        """Show ``name`` in the panel."""
        index = self.volume_combo.findText(name)
        if index >= 0:
            self.volume_combo.setCurrentIndex(index)

    def _preset_chosen(self) -> None:
        custom = self.preset_name() == CUSTOM
        self.window_spin.setEnabled(custom)
        self.level_spin.setEnabled(custom)
        self.apply()
        for callback in self.preset_callbacks:
            callback(self.preset_name())

    def _custom_edited(self) -> None:
        if not self._updating and self.preset_name() == CUSTOM:
            self.apply()

    def apply(self) -> None:
        """Set the chosen window on the volume's display and redraw the preview."""
        if not self._presets and self.preset_name() != CUSTOM:
            return
        name = prop(self.volume_combo, "currentText")
        array = self.workspace.volume(name).array if name in self.workspace.volume_names() else None
        preset = self.current_preset()
        if array is None and preset.is_data_dependent():
            self.range_label.setText(_("depends on the image"))
            self.preview.clear()
            self._check_model_window()
            return
        window, level = preset.window_level(array)
        low, high = level - window / 2.0, level + window / 2.0
        self._updating = True
        self.window_spin.setValue(window)
        self.level_spin.setValue(level)
        self._updating = False
        self.range_label.setText(f"{low:.6g} … {high:.6g}")
        self._applied_to = name
        if array is not None:
            self.workspace.set_window(name, window, level)
            self._draw_preview(np.asarray(array), low, high)
        self._check_model_window()

    def _draw_preview(self, array: np.ndarray, low: float, high: float) -> None:
        picture = windowed_grey(array[array.shape[0] // 2] if array.ndim == 3 else array, low, high)
        pixmap = pixmap_from_png(encode_png(picture))
        self.preview.setPixmap(pixmap.scaled(220, 220, qt.Qt.KeepAspectRatio, qt.Qt.SmoothTransformation))

    def _check_model_window(self) -> None:
        chosen = self.preset_name()
        if self._model_window is None or chosen == self._model_window:
            self.status.clear() if self.status.kind == "warning" else None
            return
        model = self._presets.get(self._model_window)
        model_text = model.label if model is not None else self._model_window
        self.status.show("warning", _("The display window differs from the window the model was trained "
                                      "with ({model}). Choose that preset to see what the model sees; "
                                      "inference keeps the model's window unless 'Clip inputs to the "
                                      "display window first' is on.").format(model=model_text))
