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
from .ui import StatusLine, combo
from .volume_info import guess_modality

CUSTOM = "custom"


class WindowingPanel(qt.QWidget):
    """Choose a volume and a preset, see its window/level and a preview, compare with the model's window.

    The display changes only on the user's own action in this panel (picking a volume, a preset,
    or editing W/L), and only for the picked volume; new volumes elsewhere in the scene are left
    alone. The preset list follows the picked volume's modality (CT presets for CT, MRI for MR).
    """

    def __init__(self, workspace, parent=None) -> None:
        super().__init__(parent)
        self.workspace = workspace
        self.preset_callbacks: list[Callable[[str], None]] = []
        self._presets: dict[str, object] = {}
        self._model_window: str | None = None
        self._modality: str | None = None
        self._updating = False
        self._build()
        self.reload_presets()
        workspace.subscribe(self.refresh)

    def _build(self) -> None:
        layout = qt.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        section, body = collapsible_section(_("Windowing"))
        form = qt.QFormLayout(body)
        self.volume = self.workspace.chooser("volume", _("Volume whose display window is set"))
        self.volume.on_activated(self._volume_picked)
        self.volume.on_changed(self._show_volume)
        form.addRow(_("Volume:"), self.volume.widget)
        self.preset_combo = combo(tooltip=_("Named windows of MedSegTrain; the same presets the models "
                                            "were trained with"))
        self.preset_combo.activated.connect(lambda *_args: self._preset_chosen())
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
        """Fill the preset list from MedSegTrain for the picked volume's modality (an error line when
        the backend is missing: the panel still builds)."""
        try:
            from MedSegTrain.preprocessing.windowing import list_presets
        except ImportError as exc:
            self._presets = {}
            self.status.show("error", _("Window presets need the MedSegTrain backend: ") + str(exc))
            return
        if self.status.kind == "error":
            self.status.clear()
        kept = self.preset_name() if prop(self.preset_combo, "count") else None
        self._modality = self._volume_modality()
        self._presets = {preset.name: preset for preset in list_presets(self._modality)}
        self.preset_combo.blockSignals(True)
        self.preset_combo.clear()
        for preset in self._presets.values():
            self.preset_combo.addItem(preset.label or preset.name, preset.name)
            self.preset_combo.setItemData(prop(self.preset_combo, "count") - 1, preset.reference,
                                          qt.Qt.ToolTipRole)
        self.preset_combo.addItem(_("Custom window/level"), CUSTOM)
        index = self.preset_combo.findData(kept) if kept else -1
        self.preset_combo.setCurrentIndex(index if index >= 0 else 0)
        self.preset_combo.blockSignals(False)
        self._enable_custom()
        self._preview()

    def _volume_modality(self) -> str | None:
        """``CT`` or ``MR`` for the picked volume (declared by the scene, else guessed), None if unknown."""
        item = self.volume.current_id()
        if not item or item not in self.workspace.volume_ids():
            return None
        declared = self.workspace.modality(item)
        if declared in ("CT", "MR"):
            return declared
        guessed = guess_modality(np.asarray(self.workspace.volume(item).array))
        return guessed if guessed in ("CT", "MR") else None

    def preset_name(self) -> str:
        """The chosen preset's name (``custom`` for the W/L fields)."""
        index = prop(self.preset_combo, "currentIndex")
        return str(self.preset_combo.itemData(index)) if index >= 0 else CUSTOM

    def select_preset(self, name: str, apply: bool = True) -> bool:
        """Choose preset ``name`` as the user would (with ``apply`` the picked volume's display
        follows; a restored state only shows it); False when the list lacks it."""
        index = self.preset_combo.findData(name)
        if index < 0:
            return False
        self.preset_combo.setCurrentIndex(index)
        if apply:
            self._preset_chosen()
        else:
            self._enable_custom()
            self._preview()
        return True

    def current_preset(self):
        """The chosen ``WindowPreset`` (a custom one built from the W/L fields); None without backend."""
        if not self._presets:
            return None
        from MedSegTrain.preprocessing.windowing import WindowPreset

        name = self.preset_name()
        if name == CUSTOM:
            return WindowPreset.custom(prop(self.window_spin, "value"), prop(self.level_spin, "value"))
        return self._presets[name]

    def display_window(self, item_id: str) -> tuple[float, float] | None:
        """The window/level ``item_id`` is shown with on screen (set here or elsewhere, e.g. by
        Slicer's W/L mouse mode); else this panel's current W/L."""
        shown = self.workspace.window(item_id) if item_id else None
        if shown is not None:
            return shown
        if not self._presets:
            return None
        return prop(self.window_spin, "value"), prop(self.level_spin, "value")

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
        """Follow the workspace's volume list; no display is changed here."""
        self.volume.refresh()

    def select_volume(self, item_id: str) -> None:
        """Show ``item_id`` in the panel (its display is not changed until the user acts)."""
        self.volume.select(item_id)

    def _show_volume(self) -> None:
        if self._presets and self._volume_modality() != self._modality:
            self.reload_presets()
        else:
            self._preview()

    def _volume_picked(self) -> None:
        self._show_volume()
        self.apply()

    def _enable_custom(self) -> None:
        custom = self.preset_name() == CUSTOM
        self.window_spin.setEnabled(custom)
        self.level_spin.setEnabled(custom)

    def _preset_chosen(self) -> None:
        self._enable_custom()
        self.apply()
        for callback in self.preset_callbacks:
            callback(self.preset_name())

    def _custom_edited(self) -> None:
        if not self._updating and self.preset_name() == CUSTOM:
            self.apply()

    def apply(self) -> None:
        """Set the chosen window on the picked volume's display and redraw the preview."""
        window_level = self._preview()
        item = self.volume.current_id()
        if window_level is not None and item in self.workspace.volume_ids():
            self.workspace.set_window(item, *window_level)

    def _preview(self) -> tuple[float, float] | None:
        """Show the chosen preset's W/L, range and preview for the picked volume; returns the W/L."""
        preset = self.current_preset()
        if preset is None:
            return None
        item = self.volume.current_id()
        array = np.asarray(self.workspace.volume(item).array) if item in self.workspace.volume_ids() else None
        if array is None and preset.is_data_dependent():
            self.range_label.setText(_("depends on the image"))
            self.preview.clear()
            self._check_model_window()
            return None
        window, level = preset.window_level(array)
        low, high = level - window / 2.0, level + window / 2.0
        self._updating = True
        self.window_spin.setValue(window)
        self.level_spin.setValue(level)
        self._updating = False
        self.range_label.setText(f"{low:.6g} … {high:.6g}")
        if array is not None:
            self._draw_preview(array, low, high)
        self._check_model_window()
        return window, level

    def _draw_preview(self, array: np.ndarray, low: float, high: float) -> None:
        picture = windowed_grey(array[array.shape[0] // 2] if array.ndim == 3 else array, low, high)
        pixmap = pixmap_from_png(encode_png(picture))
        self.preview.setPixmap(pixmap.scaled(220, 220, qt.Qt.KeepAspectRatio, qt.Qt.SmoothTransformation))

    def _check_model_window(self) -> None:
        chosen = self.preset_name()
        if self._model_window is None or chosen == self._model_window:
            if self.status.kind == "warning":
                self.status.clear()
            return
        model = self._presets.get(self._model_window)
        model_text = model.label if model is not None else self._model_window
        self.status.show("warning", _("The display window differs from the window the model was trained "
                                      "with ({model}). Choose that preset to see what the model sees; "
                                      "inference keeps the model's window unless 'Use the display window "
                                      "for the models' is on.").format(model=model_text))
