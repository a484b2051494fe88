"""Windowing presets (C1, L4, B5): clip values by hand, percentiles by hand, Slicer's own values."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from MedSegTrain.errors import MedSegError
from MedSegTrain.preprocessing.windowing import WindowPreset, get_preset, list_presets, percentiles

# (low, high) = level -/+ window/2, worked out by hand from the documented W/L values.
FIXED_BOUNDS = {
    "ct-abdomen": (-135.0, 215.0),
    "ct-bone": (-100.0, 900.0),
    "ct-lung": (-1200.0, 200.0),
    "ct-brain": (0.0, 100.0),
    "ct-liver": (-45.0, 105.0),
    "ct-mediastinum": (-125.0, 225.0),
    "ct-kits-clip": (-79.0, 304.0),  # Yeung et al. (L4)
}

# Slicer's VolumeDisplayPresets.json (id: window, level) — the display must match these.
SLICER_PRESETS = {
    "CT_ABDOMEN": (350.0, 40.0),
    "CT_BONE": (1000.0, 400.0),
    "CT_LUNG": (1400.0, -500.0),
    "CT_BRAIN": (100.0, 50.0),
}


@pytest.mark.parametrize(("name", "expected"), FIXED_BOUNDS.items())
def test_fixed_preset_bounds_and_clip(name: str, expected: tuple[float, float]) -> None:
    preset = get_preset(name)
    assert preset.bounds() == expected
    low, high = expected
    data = np.array([-5000, low - 1, low, (low + high) / 2, high, high + 1, 5000], dtype=np.float32)
    out = preset.apply(data)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [low, low, low, (low + high) / 2, high, high, high])


def test_slicer_display_presets_carry_slicer_values() -> None:
    by_slicer = {p.slicer_preset: p for p in list_presets() if p.slicer_preset}
    assert set(by_slicer) == set(SLICER_PRESETS)
    for slicer_id, (window, level) in SLICER_PRESETS.items():
        assert by_slicer[slicer_id].window_level() == (window, level)


def test_percentile_window_matches_hand_computed_linear_percentiles() -> None:
    data = np.arange(11, dtype=np.float64) * 10  # 0, 10, ..., 100
    # linear interpolation: rank q/100 * (n - 1); 0.6 % -> rank 0.06 -> 0.6; 99 % -> rank 9.9 -> 99
    low, high = get_preset("ct-percentile").bounds(data)
    assert low == pytest.approx(0.6)
    assert high == pytest.approx(99.0)
    assert get_preset("ct-percentile").window_level(data) == pytest.approx((98.4, 49.8))


def test_nonzero_percentile_ignores_and_keeps_background() -> None:
    data = np.array([0, 0, 0, 10, 20, 30, 40, 50], dtype=np.float32)
    preset = get_preset("mr-brats")  # 1-99 % of non-zero voxels (B5)
    low, high = preset.bounds(data)
    # five non-zero values: rank 0.01*4 = 0.04 -> 10.4; rank 0.99*4 = 3.96 -> 49.6
    assert (low, high) == pytest.approx((10.4, 49.6))
    np.testing.assert_allclose(preset.apply(data), [0, 0, 0, 10.4, 20, 30, 40, 49.6], rtol=1e-6)


def test_apply_does_not_modify_input_and_none_is_identity() -> None:
    data = np.array([[-3000, 0], [50, 4000]], dtype=np.int16)
    before = data.copy()
    get_preset("ct-abdomen").apply(data)
    np.testing.assert_array_equal(data, before)
    np.testing.assert_array_equal(get_preset("none").apply(data), before.astype(np.float32))
    assert get_preset("none").bounds(data) == (-3000.0, 4000.0)


def test_all_zero_image_with_nonzero_percentile_gives_empty_window() -> None:
    assert get_preset("mr-brats").bounds(np.zeros((3, 3))) == (0.0, 0.0)


def test_custom_window_and_bounds_constructor() -> None:
    custom = WindowPreset.custom(400, 40)
    assert custom.bounds() == (-160.0, 240.0)
    assert WindowPreset.from_bounds(-79, 304).bounds() == (-79.0, 304.0)
    with pytest.raises(MedSegError, match="greater than low"):
        WindowPreset.from_bounds(10, 10)


def test_every_preset_round_trips_through_json() -> None:
    for preset in [
        *list_presets(),
        WindowPreset.custom(80, 35),
        WindowPreset.percentile(2, 98, nonzero=True),
    ]:
        again = WindowPreset.from_dict(json.loads(json.dumps(preset.to_dict())))
        assert again == preset


def test_from_dict_accepts_a_preset_name() -> None:
    assert WindowPreset.from_dict("CT-Lung") == get_preset("ct-lung")
    assert WindowPreset.from_dict({"name": "mr-brats"}) == get_preset("mr-brats")
    with pytest.raises(MedSegError, match="ct-nothing"):
        WindowPreset.from_dict({"name": "ct-nothing"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "gaussian"}, "kind"),
        ({"window": -5.0}, "window"),
        ({"window": "wide"}, "window"),
        ({"colour": "red"}, "unknown field"),
        ({"modality": "PET"}, "modality"),
        ({"nonzero": "yes"}, "nonzero"),
    ],
)
def test_from_dict_rejects_bad_fields_naming_them(change: dict, message: str) -> None:
    data = {**get_preset("ct-bone").to_dict(), **change}
    with pytest.raises(MedSegError, match=message):
        WindowPreset.from_dict(data)


def test_percentile_preset_validation() -> None:
    with pytest.raises(MedSegError, match="upper"):
        WindowPreset.percentile(99, 1)
    with pytest.raises(MedSegError, match=r"0\.\.100"):
        WindowPreset.percentile(-1, 50)
    with pytest.raises(MedSegError, match="pass the array"):
        get_preset("mr-percentile").bounds()


def test_list_presets_by_modality() -> None:
    ct = {p.name for p in list_presets("CT")}
    mr = {p.name for p in list_presets("MRI")}
    assert {
        "ct-abdomen",
        "ct-liver",
        "ct-bone",
        "ct-lung",
        "ct-brain",
        "ct-mediastinum",
        "ct-kits-clip",
        "ct-percentile",
        "none",
    } == ct
    assert {"mr-percentile", "mr-brats", "none"} == mr
    assert all(p.label for p in list_presets())
    with pytest.raises(MedSegError, match="modality"):
        list_presets("ultrasound")


def test_unknown_preset_name_lists_the_choices() -> None:
    with pytest.raises(MedSegError, match="ct-abdomen"):
        get_preset("ct-kidney")


def test_windowing_and_package_import_neither_torch_nor_simpleitk() -> None:
    code = (
        "import sys, MedSegTrain.preprocessing, MedSegTrain.preprocessing.windowing; "
        "bad = [m for m in ('torch', 'SimpleITK') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.int32, np.uint16])
def test_counting_percentiles_equal_numpy_on_integer_images(dtype: type) -> None:
    rng = np.random.default_rng(11)
    info = np.iinfo(dtype)
    data = rng.normal(0, 300, 300_001).clip(max(info.min, -1024), min(info.max, 3071)).astype(dtype)
    qs = (0.0, 0.6, 1.0, 25.0, 50.0, 99.0, 99.5, 100.0)
    np.testing.assert_allclose(percentiles(data, qs), np.percentile(data, qs), rtol=0, atol=1e-9)


def test_percentiles_fall_back_for_float_and_wide_ranges() -> None:
    rng = np.random.default_rng(12)
    wide = rng.integers(-(10**7), 10**7, 100_000)
    floats = rng.random(100_000).astype(np.float32)
    for data in (wide, floats):
        np.testing.assert_allclose(
            percentiles(data, (1.0, 99.0)), np.percentile(data, (1.0, 99.0)), rtol=1e-12
        )
