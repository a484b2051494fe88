"""Resampling through SimpleITK (L4, X6): grids keep their physical box, labels keep their values."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from MedSegTrain.errors import MedSegError
from MedSegTrain.io import Geometry, Volume
from MedSegTrain.preprocessing.resampling import (
    resample_array,
    resample_to_reference,
    resample_volume,
    size_geometry,
    spacing_geometry,
)

OBLIQUE = tuple(
    sitk.VersorTransform((0.3, -0.2, 1.0), 0.4).GetMatrix()
)  # a proper rotation: origin/direction semantics must survive it


def grid(size=(20, 16, 12), spacing=(0.7, 0.8, 2.0), direction=OBLIQUE) -> Geometry:
    return Geometry(size, spacing, (5.0, -7.0, 11.0), direction)


def test_spacing_geometry_hand_computed() -> None:
    g = Geometry((20, 16, 12), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    out = spacing_geometry(g, (2.0, 0.5, 3.0))
    assert out.size == (10, 32, 8)
    # first centre half a new voxel inside the old corner (-0.5 * old spacing)
    np.testing.assert_allclose(out.origin, (-0.5 + 1.0, -0.5 + 0.25, -1.0 + 1.5))


def test_grids_cover_the_same_physical_box_on_an_oblique_image() -> None:
    g = grid()
    for out in (spacing_geometry(g, (1.4, 0.4, 1.0)), size_geometry(g, (7, 9, 31))):
        np.testing.assert_allclose(np.array(out.physical_bounds()), np.array(g.physical_bounds()), atol=1e-9)
        assert out.direction == g.direction


def test_up_then_down_returns_the_original_grid_and_values() -> None:
    g = grid()
    rng = np.random.default_rng(0)
    vol = Volume.from_geometry(rng.random(g.shape).astype(np.float32), g)
    up = resample_volume(vol, (0.35, 0.4, 1.0))
    assert up.array.shape == (24, 32, 40)
    down = resample_to_reference(up, g, "linear")
    assert down.geometry.same_as(g)
    # upsampling by 2 then averaging back is not exact, but stays close to the original
    assert np.abs(down.array - vol.array).mean() < 0.15


def test_label_resampling_keeps_the_label_set_and_dtype() -> None:
    g = grid(direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
    label = np.zeros(g.shape, np.uint8)
    label[3:9, 4:12, 5:15] = 3
    label[5:7, 6:10, 8:12] = 7
    for spacing in ((0.35, 0.4, 1.0), (1.4, 1.6, 4.0)):
        out = resample_volume(Volume.from_geometry(label, g), spacing, "nearest")
        assert out.array.dtype == np.uint8
        assert set(np.unique(out.array)) == {0, 3, 7}
        voxel = np.prod(out.spacing)
        assert (out.array > 0).sum() * voxel == pytest.approx(
            (label > 0).sum() * np.prod(g.spacing), rel=0.15
        )


def test_matches_simpleitk_resample_in_the_interior() -> None:
    g = grid()
    vol = Volume.from_geometry(np.random.default_rng(1).random(g.shape).astype(np.float32), g)
    target = spacing_geometry(g, (1.1, 0.9, 1.3))
    for name, interp in (("linear", sitk.sitkLinear), ("bspline", sitk.sitkBSpline)):
        ours = resample_array(vol.array, g, target, name)
        ref = sitk.Resample(
            vol.to_sitk(),
            [int(v) for v in target.size],
            sitk.Transform(),
            interp,
            target.origin,
            target.spacing,
            target.direction,
            0.0,
            sitk.sitkFloat32,
        )
        inner = (slice(2, -2),) * 3
        np.testing.assert_allclose(ours[inner], sitk.GetArrayFromImage(ref)[inner], atol=1e-5)


def test_channels_are_resampled_alike_and_edges_are_not_dark() -> None:
    g = grid(direction=(1, 0, 0, 0, 1, 0, 0, 0, 1))
    stack = np.stack([np.full(g.shape, 1.0, np.float32), np.full(g.shape, 2.0, np.float32)])
    out = resample_array(stack, g, spacing_geometry(g, (0.3, 0.3, 0.9)))
    np.testing.assert_allclose(out[0], 1.0)
    np.testing.assert_allclose(out[1], 2.0)


def test_same_grid_is_an_exact_copy() -> None:
    g = grid()
    data = np.random.default_rng(2).random(g.shape).astype(np.float32)
    out = resample_array(data, g, g)
    np.testing.assert_array_equal(out, data)
    assert out is not data


def test_errors_name_the_option() -> None:
    g = grid()
    with pytest.raises(MedSegError, match="target spacing"):
        spacing_geometry(g, (1.0, 0.0, 1.0))
    with pytest.raises(MedSegError, match="target size"):
        size_geometry(g, (1, 2))
    with pytest.raises(MedSegError, match="interpolation"):
        resample_array(np.zeros(g.shape), g, g, "cubic")
    with pytest.raises(MedSegError, match="does not match"):
        resample_array(np.zeros((2, 2, 2)), g, g)


def separable_linear_reference(data: np.ndarray, source: Geometry, target: Geometry) -> np.ndarray:
    """Textbook separable linear interpolation, continuous index clamped to the outer centres."""
    out = data.astype(np.float64)
    offset = np.linalg.solve(source.direction_matrix, np.subtract(target.origin, source.origin))
    for a in range(source.ndim):  # a in (x, y, z) order; array axis is ndim - 1 - a
        axis = source.ndim - 1 - a
        c = offset[a] / source.spacing[a] + np.arange(target.size[a]) * target.spacing[a] / source.spacing[a]
        c = np.clip(c, 0, source.size[a] - 1)
        i0 = np.floor(c).astype(int)
        i1 = np.minimum(i0 + 1, source.size[a] - 1)
        shape = [1] * out.ndim
        shape[axis] = -1
        w = (c - i0).reshape(shape)
        out = np.take(out, i0, axis=axis) * (1 - w) + np.take(out, i1, axis=axis) * w
    return out


@pytest.mark.parametrize("direction", [OBLIQUE, (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0)])
def test_linear_equals_separable_interpolation_everywhere_including_the_rim(direction) -> None:
    g = grid(size=(61, 47, 33), spacing=(0.8, 0.7, 2.5), direction=direction)
    data = np.random.default_rng(3).random(g.shape).astype(np.float32)
    for spacing in ((1.62, 1.3, 3.22), (0.3, 0.45, 1.1)):
        coarse = spacing_geometry(g, spacing)
        down = resample_array(data, g, coarse)
        np.testing.assert_allclose(down, separable_linear_reference(data, g, coarse), atol=1e-5)
        back = resample_array(down, coarse, g)  # the restore direction
        np.testing.assert_allclose(back, separable_linear_reference(down, coarse, g), atol=1e-5)


def test_linear_on_unaligned_grids_goes_through_simpleitk() -> None:
    g = grid(direction=(1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0))
    shifted = Geometry(g.size, g.spacing, (g.origin[0] + 0.3, g.origin[1], g.origin[2]), g.direction)
    data = np.random.default_rng(4).random(g.shape).astype(np.float32)
    out = resample_array(data, g, shifted)
    ref = sitk.Resample(
        Volume.from_geometry(data, g).to_sitk(),
        [int(v) for v in shifted.size],
        sitk.Transform(),
        sitk.sitkLinear,
        shifted.origin,
        shifted.spacing,
        shifted.direction,
        0.0,
        sitk.sitkFloat32,
    )
    np.testing.assert_allclose(out[:, :, :-1], sitk.GetArrayFromImage(ref)[:, :, :-1], atol=1e-6)


def test_two_dimensional_images() -> None:
    g = Geometry((40, 30), (0.5, 0.7), (1.0, 2.0), (1.0, 0.0, 0.0, 1.0))
    data = np.random.default_rng(5).random(g.shape).astype(np.float32)
    target = spacing_geometry(g, (1.1, 0.9))
    np.testing.assert_allclose(
        resample_array(data, g, target), separable_linear_reference(data, g, target), atol=1e-5
    )
