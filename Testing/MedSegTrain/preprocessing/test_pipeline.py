"""PreprocessingSpec (C1, L4, X6, B5, B8): serialisation, step order, geometry, restore."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from MedSegTrain.errors import MedSegError
from MedSegTrain.io import Geometry, Volume
from MedSegTrain.preprocessing.pipeline import PreprocessingSpec, recipe
from MedSegTrain.preprocessing.windowing import get_preset

# a permuted, flipped direction (columns = physical direction of index axes x, y, z)
DIRECTION = (0.0, 0.0, 1.0, -1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def make_volume(shape=(12, 16, 20), spacing=(0.8, 0.9, 2.5), origin=(10.0, -20.0, 30.0), seed=0) -> Volume:
    rng = np.random.default_rng(seed)
    return Volume(rng.normal(100, 20, shape).astype(np.float32), spacing, origin, DIRECTION)


def test_round_trip_through_json_for_every_recipe_and_a_full_spec() -> None:
    specs = [
        PreprocessingSpec(),
        *(
            recipe(n)
            for n in (
                "mixup-prostate",
                "kits-mixed-focal",
                "brats-a",
                "brats-b",
                "ct-percentile",
                "prostate-n4",
            )
        ),
    ]
    specs.append(
        PreprocessingSpec(
            window=get_preset("ct-liver"),
            normalization="fixed-zscore",
            norm_params={"mean": [10.0, 20.0], "std": [2.0, 3.0], "source": "random sample of 8 cases"},
            target_spacing=(1.0, 1.0, 2.0),
            n4=True,
            n4_params={"shrink_factor": 2},
            crop_nonzero=True,
            crop_margin=(1, 2, 3),
            fixed_size=(32, 64, 64),
            pad_multiple=8,
            interpolation="bspline",
        )
    )
    for spec in specs:
        assert PreprocessingSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_recipe_values_come_from_the_papers() -> None:
    kits = recipe("kits-mixed-focal")  # L4: clip [-79, 304] HU, spacing 3.22 x 1.62 x 1.62 mm (z, y, x)
    assert kits.window.bounds() == (-79.0, 304.0)
    assert kits.target_spacing == (1.62, 1.62, 3.22)
    assert recipe("mixup-prostate").fixed_size == (32, 320, 320)  # X6


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"normalization": "l2"}, "normalization"),
        ({"target_spacing": [1.0, -1.0, 1.0]}, "target_spacing"),
        ({"fixed_size": [32, 320.5, 320]}, "fixed_size"),
        ({"pad_multiple": 0}, "pad_multiple"),
        ({"crop_margin": -1}, "crop_margin"),
        ({"n4": "yes"}, "n4"),
        ({"n4_params": {"shrink": 2}}, "n4_params"),
        ({"interpolation": "cubic"}, "interpolation"),
        ({"window": {"name": "x", "kind": "fixed", "window": 0, "level": 1}}, "window"),
        ({"window": "ct-nothing"}, "ct-nothing"),
        ({"normalization": "fixed-zscore", "norm_params": {"mean": 1.0}}, "norm_params.std"),
        ({"normalization": "zscore", "norm_params": {"mean": 1.0}}, "norm_params"),
        ({"spacing": [1, 1, 1]}, "unknown field"),
    ],
)
def test_invalid_dicts_raise_naming_the_field(data: dict, field: str) -> None:
    with pytest.raises(MedSegError, match=field):
        PreprocessingSpec.from_dict(data)


def test_default_spec_is_a_per_volume_zscore_on_the_same_grid() -> None:
    vol = make_volume()
    prepared = PreprocessingSpec().prepare_image([vol])
    assert prepared.array.shape == (1, *vol.array.shape)
    assert prepared.array.dtype == np.float32
    expected = (vol.array - vol.array.astype(np.float64).mean()) / vol.array.astype(np.float64).std()
    np.testing.assert_allclose(prepared.array[0], expected, atol=1e-5)
    assert prepared.geometry.same_as(vol.geometry)


def test_window_is_applied_before_normalisation() -> None:
    vol = make_volume().with_array(
        np.linspace(-1000, 1000, 12 * 16 * 20, dtype=np.float32).reshape(12, 16, 20)
    )
    prepared = PreprocessingSpec(window=get_preset("ct-kits-clip"), normalization="none").prepare_image([vol])
    assert prepared.array.min() == -79.0
    assert prepared.array.max() == 304.0
    assert prepared.context.window_bounds == ((-79.0, 304.0),)


def test_crop_nonzero_with_margin_and_pad_to_multiple_of_8_exact_restore() -> None:
    array = np.zeros((12, 16, 20), np.float32)
    array[3:7, 5:9, 2:15] = np.arange(4 * 4 * 13, dtype=np.float32).reshape(4, 4, 13) + 1
    vol = make_volume().with_array(array)
    spec = PreprocessingSpec(normalization="none", crop_nonzero=True, crop_margin=1, pad_multiple=8)
    prepared = spec.prepare_image([vol])
    # non-zero box z 3..6, y 5..8, x 2..14 grown by one voxel -> z 2:8, y 4:10, x 1:16
    assert prepared.context.crop_box == ((2, 8), (4, 10), (1, 16))
    assert prepared.array.shape == (1, 8, 8, 16)  # 6, 6, 15 padded up to multiples of 8
    assert prepared.context.pad == ((1, 1), (1, 1), (0, 1))
    np.testing.assert_array_equal(prepared.array[0, 1:7, 1:7, 0:15], array[2:8, 4:10, 1:16])
    # the prepared grid is where the crop/pad says it is: voxel (0,0,0) is input voxel (z1, y3, x1)
    expected_origin = vol.geometry.index_to_physical(np.array([1.0, 3.0, 1.0]))
    np.testing.assert_allclose(prepared.geometry.origin, expected_origin, atol=1e-9)
    prob = np.random.default_rng(1).random((3, 8, 8, 16)).astype(np.float32)
    restored = spec.restore(prob, prepared, fill=[1.0, 0.0, 0.0])
    assert restored.shape == (3, 12, 16, 20)
    np.testing.assert_array_equal(restored[:, 2:8, 4:10, 1:16], prob[:, 1:7, 1:7, 0:15])
    outside = np.ones((12, 16, 20), bool)
    outside[2:8, 4:10, 1:16] = False
    assert np.all(restored[0][outside] == 1.0)
    assert np.all(restored[1:][:, outside] == 0.0)


def test_restore_is_exact_identity_without_resampling_or_crop() -> None:
    vol = make_volume()
    spec = PreprocessingSpec(window=get_preset("mr-percentile"))
    prepared = spec.prepare_image([vol])
    prob = np.random.default_rng(2).random((2, *vol.array.shape)).astype(np.float32)
    np.testing.assert_array_equal(spec.restore(prob, prepared), prob)


def test_resampling_keeps_the_physical_box_and_restores_linear_fields() -> None:
    vol = make_volume(shape=(10, 16, 20), spacing=(1.0, 1.0, 2.5))
    spec = PreprocessingSpec(normalization="none", target_spacing=(2.0, 2.0, 5.0))
    prepared = spec.prepare_image([vol])
    assert prepared.geometry.size == (10, 8, 5)
    assert prepared.geometry.spacing == (2.0, 2.0, 5.0)
    np.testing.assert_allclose(
        np.array(prepared.geometry.physical_bounds()), np.array(vol.geometry.physical_bounds()), atol=1e-9
    )

    # a field linear in physical space, sampled on the prepared grid, comes back exactly (interior)
    def ramp(geometry: Geometry) -> np.ndarray:
        idx = np.stack(np.meshgrid(*[np.arange(n) for n in geometry.size], indexing="ij"), -1)
        pts = geometry.index_to_physical(idx.reshape(-1, 3)).reshape(*geometry.size, 3)
        return (0.3 * pts[..., 0] - 0.2 * pts[..., 1] + 0.1 * pts[..., 2]).transpose(2, 1, 0)

    restored = spec.restore(ramp(prepared.geometry)[None].astype(np.float32), prepared)[0]
    np.testing.assert_allclose(restored[3:-3, 3:-3, 3:-3], ramp(vol.geometry)[3:-3, 3:-3, 3:-3], atol=1e-3)


def test_resampled_grid_matches_simpleitk_resample_of_the_image() -> None:
    vol = make_volume()
    spec = PreprocessingSpec(normalization="none", target_spacing=(1.2, 1.1, 1.7))
    prepared = spec.prepare_image([vol])
    g = prepared.geometry
    reference = sitk.Resample(
        vol.to_sitk(),
        [int(v) for v in g.size],
        sitk.Transform(),
        sitk.sitkLinear,
        g.origin,
        g.spacing,
        g.direction,
        0.0,
        sitk.sitkFloat32,
    )
    interior = (slice(1, -1),) * 3  # the library leaves 0 beyond the last voxel centre; we extrapolate
    np.testing.assert_allclose(
        prepared.array[0][interior], sitk.GetArrayFromImage(reference)[interior], atol=1e-4
    )


def test_prepare_label_keeps_label_set_and_volume_on_the_same_grid() -> None:
    vol = make_volume(shape=(16, 24, 24), spacing=(1.0, 1.0, 1.0))
    zz, yy, xx = np.mgrid[:16, :24, :24]
    label = np.zeros((16, 24, 24), np.uint8)
    label[(zz - 8) ** 2 + (yy - 12) ** 2 + (xx - 12) ** 2 < 36] = 1
    label[(zz - 8) ** 2 + (yy - 12) ** 2 + (xx - 12) ** 2 < 9] = 2
    spec = PreprocessingSpec(target_spacing=(0.5, 0.5, 0.5), crop_nonzero=False)
    prepared = spec.prepare_image([vol])
    out = spec.prepare_label(vol.with_array(label), prepared)
    assert out.shape == prepared.array.shape[1:]
    assert out.dtype == np.uint8
    assert set(np.unique(out)) == {0, 1, 2}
    # physical volume of the foreground within nearest-neighbour error
    assert (out > 0).sum() * 0.125 == pytest.approx((label > 0).sum(), rel=0.05)


def test_fixed_size_resamples_in_plane_and_zero_pads_slices() -> None:
    vol = make_volume(shape=(20, 30, 40), spacing=(0.5, 0.6, 3.0))
    spec = recipe("mixup-prostate")
    prepared = spec.prepare_image([vol])
    assert prepared.array.shape == (1, 32, 320, 320)
    assert prepared.context.pad == ((6, 6), (0, 0), (0, 0))
    assert np.all(prepared.array[0, :6] == 0) and np.all(prepared.array[0, -6:] == 0)
    body = prepared.array[0, 6:-6]
    assert body.mean() == pytest.approx(0.0, abs=1e-4) and body.std() == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(prepared.geometry.spacing, (40 * 0.5 / 320, 30 * 0.6 / 320, 3.0))
    restored = spec.restore(prepared.array, prepared)
    assert restored.shape == (1, 20, 30, 40)


def test_channels_on_other_grids_are_resampled_and_inputs_untouched() -> None:
    first = make_volume()
    second = Volume(np.full((6, 8, 10), 5.0, np.float32), (1.6, 1.8, 5.0), first.origin, DIRECTION)
    before = first.array.copy()
    prepared = PreprocessingSpec(normalization="none").prepare_image([first, second])
    assert prepared.array.shape == (2, 12, 16, 20)
    np.testing.assert_allclose(prepared.array[1], 5.0)
    np.testing.assert_array_equal(first.array, before)


def test_fixed_zscore_uses_one_statistic_per_channel() -> None:
    vol = make_volume()
    spec = PreprocessingSpec(
        normalization="fixed-zscore", norm_params={"mean": [100.0, 50.0], "std": [20.0, 10.0]}
    )
    prepared = spec.prepare_image([vol, vol])
    np.testing.assert_allclose(prepared.array[0], (vol.array - 100.0) / 20.0, atol=1e-5)
    np.testing.assert_allclose(prepared.array[1], (vol.array - 50.0) / 10.0, atol=1e-5)
    with pytest.raises(MedSegError, match="channel 2"):
        spec.prepare_image([vol, vol, vol])


def test_user_errors_are_medsegerrors() -> None:
    vol = make_volume()
    spec = PreprocessingSpec()
    prepared = spec.prepare_image([vol])
    with pytest.raises(MedSegError, match="no input channels"):
        spec.prepare_image([])
    with pytest.raises(MedSegError, match="label"):
        spec.prepare_label(make_volume(shape=(12, 16, 21)), prepared)
    with pytest.raises(MedSegError, match="restore"):
        spec.restore(np.zeros((2, 3, 3, 3), np.float32), prepared)


def test_two_dimensional_slices_resample_both_axes_to_the_fixed_size() -> None:
    image = Volume(
        np.random.default_rng(6).random((30, 40)).astype(np.float32),
        (0.5, 0.7),
        (1.0, 2.0),
        (1.0, 0.0, 0.0, 1.0),
    )
    spec = PreprocessingSpec(fixed_size=(64, 64), pad_multiple=8)
    prepared = spec.prepare_image([image])
    assert prepared.array.shape == (1, 64, 64)
    assert prepared.context.pad == ((0, 0), (0, 0))
    np.testing.assert_allclose(prepared.geometry.spacing, (40 * 0.5 / 64, 30 * 0.7 / 64))
    label = spec.prepare_label(image.with_array((image.array > 0.5).astype(np.uint8)), prepared)
    assert label.shape == (64, 64) and set(np.unique(label)) == {0, 1}
    assert spec.restore(prepared.array, prepared).shape == (1, 30, 40)
