"""Windowing panel: MedSegTrain's presets on the display, custom W/L, the model-window warning (C1)."""

from __future__ import annotations

import numpy as np
import pytest
from MedSegMixupLib.windowing_panel import CUSTOM, WindowingPanel
from MedSegMixupLib.workspace import MemoryWorkspace

from MedSegTrain.io import Volume
from MedSegTrain.preprocessing.windowing import list_presets

pytestmark = pytest.mark.gui


@pytest.fixture
def panel(qtbot):
    workspace = MemoryWorkspace()
    ramp = np.linspace(-1000, 1000, 4 * 16 * 16, dtype=np.float32).reshape(4, 16, 16)
    workspace.add_volume("ct", Volume(ramp, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1)))
    widget = WindowingPanel(workspace)
    qtbot.addWidget(widget)
    return widget


def test_presets_follow_the_picked_volumes_modality(panel):
    names = [panel.preset_combo.itemData(i) for i in range(panel.preset_combo.count())]
    assert names == [p.name for p in list_presets("CT")] + [CUSTOM]  # the ramp reaches -1000 HU: CT
    assert "mr-percentile" not in names and "none" in names
    mri = np.linspace(0, 800, 4 * 16 * 16, dtype=np.float32).reshape(4, 16, 16)
    identity = (1, 0, 0, 0, 1, 0, 0, 0, 1)
    panel.workspace.add_volume("t2", Volume(mri, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), identity))
    pick(panel, "t2")
    names = [panel.preset_combo.itemData(i) for i in range(panel.preset_combo.count())]
    assert names == [p.name for p in list_presets("MR")] + [CUSTOM]


@pytest.mark.parametrize("name, window, level", [("ct-abdomen", 350, 40), ("ct-bone", 1000, 400),
                                                 ("ct-lung", 1400, -500), ("ct-brain", 100, 50)])
def test_slicer_ct_presets_reach_the_display(panel, name, window, level):
    assert panel.select_preset(name)
    assert panel.workspace.window("ct") == (window, level)  # Slicer's own preset values (DESIGN.md)
    assert panel.range_label.text() == f"{level - window / 2:g} … {level + window / 2:g}"


def test_percentile_window_is_computed_from_the_image(panel):
    panel.select_preset("ct-percentile")
    low, high = np.percentile(panel.workspace.volume("ct").array, [0.6, 99.0])
    window, level = panel.workspace.window("ct")
    assert window == pytest.approx(high - low) and level == pytest.approx((low + high) / 2)
    assert not panel.window_spin.isEnabled()


def test_custom_window_level(panel):
    panel.select_preset(CUSTOM)
    assert panel.window_spin.isEnabled()
    panel.window_spin.setValue(600)
    panel.level_spin.setValue(-100)
    assert panel.workspace.window("ct") == (600, -100)
    preset = panel.current_preset()
    assert preset.bounds() == (-400, 200)


def test_warning_when_display_and_model_windows_differ(panel):
    chosen = []
    panel.preset_callbacks.append(chosen.append)
    panel.select_preset("ct-abdomen")
    panel.set_model_window("ct-kits-clip")
    assert panel.status.kind == "warning" and "kidney clip" in panel.status.text
    assert "kidney clip" in panel.model_label.text()
    panel.select_preset("ct-kits-clip")
    assert not panel.status.text
    assert chosen[-1] == "ct-kits-clip"
    panel.set_model_window(None)
    assert panel.model_label.text() == "no model selected"


def test_only_the_picked_volume_changes_and_only_on_the_users_action(panel):
    panel.select_preset("ct-bone")
    panel.workspace.set_window("ct", 80, 35)  # e.g. the user dragged W/L in Slicer's slice view
    panel.workspace.add_volume("other", panel.workspace.volume("ct"))
    assert panel.workspace.window("ct") == (80, 35)
    assert panel.workspace.window("other") is None
    panel.select_volume("other")  # shown in the panel (e.g. after loading) but not picked by the user
    assert panel.workspace.window("other") is None
    pick(panel, "other")
    assert panel.workspace.window("other") == (1000, 400) and panel.workspace.window("ct") == (80, 35)
    assert panel.display_window("ct") == (80, 35)  # what inference gets when told to use the screen


def pick(panel, item_id):
    """Choose a volume in the panel's combo box as a user does (Qt's ``activated`` signal)."""
    assert panel.volume.select(item_id)
    panel.volume.widget.activated.emit(panel.volume.widget.currentIndex())
