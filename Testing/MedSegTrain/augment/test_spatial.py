"""Spatial transforms (X7, C4, L5, B6 flips) against torch.flip/rot90, scipy.ndimage and geometry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from MedSegTrain.augment.spatial import (
    ROTATION_PLANES,
    Affine,
    Elastic,
    Flip,
    SpatialResample,
    affine_parameters,
)
from MedSegTrain.errors import MedSegError


def assert_close(actual: torch.Tensor, expected: torch.Tensor, atol: float) -> None:
    """Elementwise |actual - expected| <= atol (numpy's check, cheaper to import than torch.testing)."""
    np.testing.assert_allclose(actual.double().numpy(), expected.double().numpy(), atol=atol, rtol=0)


def _affine_params(n: int, dims: int, angles=None, scale=None, translate=None, applied=None) -> dict:
    planes = len(ROTATION_PLANES[dims])
    return {
        "applied": torch.ones(n, dtype=torch.bool) if applied is None else torch.tensor(applied),
        "angles": torch.zeros(n, planes) if angles is None else torch.tensor(angles, dtype=torch.float32),
        "scale": torch.ones(n, dims) if scale is None else torch.tensor(scale, dtype=torch.float32),
        "translate": torch.zeros(n, dims)
        if translate is None
        else torch.tensor(translate, dtype=torch.float32),
    }


def _disk(size: int, radius: float, centre: tuple[float, float] | None = None) -> np.ndarray:
    cy, cx = centre or ((size - 1) / 2, (size - 1) / 2)
    y, x = np.mgrid[:size, :size]
    return ((y - cy) ** 2 + (x - cx) ** 2 <= radius**2).astype(np.int64)


def test_flip_is_exact_and_its_own_inverse():
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(4, 2, 5, 6, 7, generator=generator)
    labels = torch.randint(0, 3, (4, 1, 5, 6, 7), generator=generator)
    flip = Flip(p=1.0, axes=[0, -1])
    params = flip.sample(images.shape, generator, images.device)
    out_images, out_labels = flip.apply(images.clone(), labels.clone(), params)
    assert torch.equal(out_images, images.flip(2).flip(4))
    assert torch.equal(out_labels, labels.flip(2).flip(4))
    back_images, back_labels = flip.apply(out_images.clone(), out_labels.clone(), params)
    assert torch.equal(back_images, images) and torch.equal(back_labels, labels)


def test_flip_draws_each_axis_with_its_probability_and_leaves_others_alone():
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(3000, 1, 2, 3, generator=generator)
    flip = Flip(p=0.3, axes=[1])
    params = flip.sample(images.shape, generator, images.device)
    out, _ = flip.apply(images.clone(), None, params)
    flipped = params["flips"][:, 0]
    assert abs(flipped.float().mean().item() - 0.3) < 0.03
    assert torch.equal(out[flipped], images[flipped].flip(3))
    assert torch.equal(out[~flipped], images[~flipped])


@pytest.mark.parametrize("plane", range(3))
def test_rotation_by_90_degrees_equals_rot90_in_every_plane(plane):
    generator = torch.Generator().manual_seed(plane)
    a, b = ROTATION_PLANES[3][plane]
    shape = [6, 6, 6]
    shape[3 - a - b] = 5  # the rotation axis may differ in size; the plane must be square
    images = torch.randn(1, 2, *shape, generator=generator)
    labels = torch.randint(0, 4, (1, 1, *shape), generator=generator)
    angles = [[0.0, 0.0, 0.0]]
    angles[0][plane] = 90.0
    out_images, out_labels = Affine().apply(images.clone(), labels.clone(), _affine_params(1, 3, angles))
    assert_close(out_images, torch.rot90(images, 1, (a + 2, b + 2)), atol=1e-4)
    assert torch.equal(out_labels, torch.rot90(labels, 1, (a + 2, b + 2)))


def test_rotation_by_90_degrees_in_2d_and_minus_90_is_the_inverse():
    generator = torch.Generator().manual_seed(3)
    images = torch.randn(2, 1, 8, 8, generator=generator)
    labels = torch.randint(0, 2, (2, 1, 8, 8), generator=generator)
    out, out_labels = Affine().apply(images.clone(), labels.clone(), _affine_params(2, 2, [[90.0], [-90.0]]))
    assert_close(out[0], torch.rot90(images[0], 1, (1, 2)), atol=1e-4)
    assert_close(out[1], torch.rot90(images[1], -1, (1, 2)), atol=1e-4)
    assert torch.equal(out_labels[0], torch.rot90(labels[0], 1, (1, 2)))


@pytest.mark.parametrize("dims", [2, 3])
def test_identity_parameters_give_identity(dims):
    generator = torch.Generator().manual_seed(4)
    shape = (3, 2, *([9, 10, 11][:dims]))
    images = torch.randn(shape, generator=generator)
    labels = torch.randint(0, 5, (3, 1, *shape[2:]), generator=generator)
    out, out_labels = Affine().apply(images.clone(), labels.clone(), _affine_params(3, dims))
    assert_close(out, images, atol=1e-5)
    assert torch.equal(out_labels, labels)


def test_integer_translation_shifts_content_exactly():
    images = torch.arange(30, dtype=torch.float32).view(1, 1, 5, 6)
    out, _ = Affine().apply(images.clone(), None, _affine_params(1, 2, translate=[[1.0, -2.0]]))
    expected = torch.zeros_like(images)
    expected[..., 1:, :4] = images[..., :4, 2:]  # content moves down 1 row, left 2 columns
    assert_close(out, expected, atol=1e-5)


@pytest.mark.parametrize("scale", [0.5, 0.8, 1.5])
def test_zoom_scales_a_disk_area_by_s_squared(scale):
    disk = _disk(128, 24.0)
    labels = torch.from_numpy(disk).view(1, 1, 128, 128)
    images = labels.float()
    out, out_labels = Affine().apply(images, labels.clone(), _affine_params(1, 2, scale=[[scale, scale]]))
    expected = disk.sum() * scale**2
    assert out_labels.sum().item() == pytest.approx(expected, rel=0.03)
    assert out.sum().item() == pytest.approx(expected, rel=0.01)  # linear interpolation keeps mass


def test_rotated_mask_keeps_its_volume_within_interpolation_error():
    z, y, x = np.mgrid[:48, :48, :48]
    ellipsoid = (((z - 23.5) / 14) ** 2 + ((y - 23.5) / 9) ** 2 + ((x - 23.5) / 6) ** 2 <= 1).astype(np.int64)
    labels = torch.from_numpy(ellipsoid).view(1, 1, 48, 48, 48)
    angles = [[33.0, -21.0, 47.0]]
    _, out_labels = Affine().apply(labels.float(), labels.clone(), _affine_params(1, 3, angles))
    assert out_labels.sum().item() == pytest.approx(ellipsoid.sum(), rel=0.02)
    assert set(torch.unique(out_labels).tolist()) <= {0, 1}


def test_affine_matches_scipy_ndimage_linear_interpolation():
    generator = torch.Generator().manual_seed(5)
    images = torch.randn(1, 1, 12, 14, 16, generator=generator)
    params = _affine_params(
        1, 3, angles=[[20.0, -35.0, 10.0]], scale=[[1.2, 0.9, 1.1]], translate=[[1.5, -0.7, 2.2]]
    )
    out, _ = Affine().apply(images.clone(), None, params)
    matrix, offset = affine_parameters(params["angles"], params["scale"], params["translate"])
    centre = (np.array(images.shape[2:]) - 1) / 2
    a = matrix[0].double().numpy()
    shift = centre + offset[0].double().numpy() - a @ centre  # index_in = a @ index_out + shift
    expected = ndimage.affine_transform(
        images[0, 0].double().numpy(), a, offset=shift, order=1, mode="grid-constant", cval=0.0
    )
    np.testing.assert_allclose(out[0, 0].numpy(), expected, atol=1e-4)


def test_zoom_and_translation_move_a_point_as_documented():
    # v_out = s R v_in + t in centred voxels: a point at x offset +2 (index 7 of 11) goes to
    # +2 * 2 = +4 (index 9) when zoomed by 2, and to index 8 when shifted by +1 instead.
    image = torch.zeros(1, 1, 11, 11)
    image[0, 0, 5, 7] = 1.0
    zoomed, _ = Affine().apply(image.clone(), None, _affine_params(1, 2, scale=[[2.0, 2.0]]))
    assert zoomed[0, 0, 5, 9].item() == pytest.approx(1.0, abs=1e-5)
    assert zoomed[0, 0, 5, 7].item() == pytest.approx(0.0, abs=1e-5)
    shifted, _ = Affine().apply(image.clone(), None, _affine_params(1, 2, translate=[[0.0, 1.0]]))
    assert shifted[0, 0, 5, 8].item() == pytest.approx(1.0, abs=1e-5)


def test_unselected_samples_are_untouched():
    generator = torch.Generator().manual_seed(6)
    images = torch.randn(3, 1, 8, 8, generator=generator)
    labels = torch.randint(0, 2, (3, 1, 8, 8), generator=generator)
    params = _affine_params(3, 2, angles=[[30.0], [30.0], [30.0]], applied=[False, True, False])
    out, out_labels = Affine().apply(images.clone(), labels.clone(), params)
    assert torch.equal(out[0], images[0]) and torch.equal(out[2], images[2])
    assert torch.equal(out_labels[[0, 2]], labels[[0, 2]])
    assert not torch.equal(out[1], images[1])


def test_soft_masks_are_resampled_linearly_and_stay_a_partition_inside():
    disk = torch.from_numpy(_disk(32, 9.0)).float()
    soft = torch.stack([1 - disk, disk]).unsqueeze(0)
    _, out = Affine().apply(soft[:, :1].clone(), soft.clone(), _affine_params(1, 2, [[27.0]]))
    inside = out[0].sum(0)[4:-4, 4:-4]
    assert_close(inside, torch.ones_like(inside), atol=1e-5)
    assert ((out > 0.01) & (out < 0.99)).any()  # edges are interpolated, not nearest


def test_elastic_with_constant_displacement_is_a_translation():
    images = torch.arange(64, dtype=torch.float32).view(1, 1, 8, 8)
    displacement = torch.zeros(1, 2, 4, 4)
    displacement[:, 1] = 2.0  # every control point samples 2 voxels further along x
    params = {"applied": torch.tensor([True]), "displacement": displacement}
    out, _ = Elastic(p=1.0, control_points=4).apply(images.clone(), None, params)
    expected = torch.zeros_like(images)
    expected[..., :, :6] = images[..., :, 2:]
    assert_close(out, expected, atol=1e-4)


def test_elastic_deformation_is_smooth_and_bounded_and_keeps_labels_valid():
    generator = torch.Generator().manual_seed(7)
    elastic = Elastic(p=1.0, control_points=5, max_displacement=[3.0])
    labels = torch.from_numpy(_disk(64, 20.0)).view(1, 1, 64, 64)
    params = elastic.sample(labels.shape, generator, labels.device)
    assert params["displacement"].abs().max() <= 3.0
    _, out_labels = elastic.apply(labels.float(), labels.clone(), params)
    assert set(torch.unique(out_labels).tolist()) <= {0, 1}
    assert out_labels.sum().item() == pytest.approx(labels.sum().item(), rel=0.15)
    assert not torch.equal(out_labels, labels)


def test_affine_and_elastic_fuse_into_one_resampling():
    generator = torch.Generator().manual_seed(8)
    images = torch.randn(2, 1, 16, 16, generator=generator)
    affine, elastic = Affine(rotate=[30.0]), Elastic(p=1.0, max_displacement=[0.0])
    fused = SpatialResample(affine, elastic)
    params = fused.sample(images.shape, generator, images.device)
    out, _ = fused.apply(images.clone(), None, params)
    alone, _ = affine.apply(
        images.clone(), None, {k[7:]: v for k, v in params.items() if k.startswith("affine.")}
    )
    assert_close(out, alone, atol=1e-5)


@pytest.mark.parametrize("flip_first", [True, False])
@pytest.mark.parametrize("with_elastic", [False, True])
def test_flip_folded_into_the_resampling_equals_running_the_steps_in_turn(flip_first, with_elastic):
    generator = torch.Generator().manual_seed(10)
    images = torch.randn(6, 2, 7, 9, 10, generator=generator)
    labels = torch.randint(0, 3, (6, 1, 7, 9, 10), generator=generator)
    flip = Flip(p=0.6)
    affine = Affine(p=0.6, rotate=[25.0], scale=(0.8, 1.2), translate=[0.1])
    elastic = Elastic(p=0.6, control_points=4, max_displacement=[1.5]) if with_elastic else None
    fused = SpatialResample(affine, elastic, flip, flip_first=flip_first)
    params = fused.sample(images.shape, generator, images.device)
    out, out_labels = fused.apply(images.clone(), labels.clone(), params)

    flip_params = {key[5:]: value for key, value in params.items() if key.startswith("flip.")}
    resample_params = {key: value for key, value in params.items() if not key.startswith("flip.")}
    resample_params["applied"] = params["affine.applied"] | params.get(
        "elastic.applied", params["affine.applied"]
    )
    resample = SpatialResample(affine, elastic)
    steps = [(flip, flip_params), (resample, resample_params)]
    expected, expected_labels = images.clone(), labels.clone()
    for step, step_params in steps if flip_first else steps[::-1]:
        expected, expected_labels = step.apply(expected, expected_labels, step_params)
    assert_close(out, expected, atol=1e-4)
    mismatched = (out_labels != expected_labels).float().mean().item()
    assert mismatched < 1e-3  # nearest neighbour may round a few exact ties differently
    only_flipped = ~resample_params["applied"] & params["flip.applied"]
    assert only_flipped.any() and torch.equal(out[only_flipped], expected[only_flipped])


def test_sampled_affine_parameters_stay_in_their_ranges():
    generator = torch.Generator().manual_seed(9)
    affine = Affine(p=0.5, rotate=[16.0, 0.0, 0.0], scale=(0.5, 1.5), translate=[0.1])
    params = affine.sample(torch.Size((2000, 1, 8, 20, 30)), generator, torch.device("cpu"))
    assert params["angles"][:, 0].abs().max() <= 16.0 and params["angles"][:, 0].abs().max() > 15.0
    assert torch.all(params["angles"][:, 1:] == 0)
    assert torch.all((params["scale"] >= 0.5) & (params["scale"] <= 1.5))
    assert torch.all(params["scale"][:, 0] == params["scale"][:, 2])  # isotropic
    limits = torch.tensor([0.8, 2.0, 3.0])
    assert torch.all(params["translate"].abs() <= limits)
    assert abs(params["applied"].float().mean().item() - 0.5) < 0.04


def test_rotation_planes_a_2d_batch_lacks_are_an_error():
    with pytest.raises(MedSegError, match="2D batch"):
        Affine(rotate=[10.0, 5.0]).sample(torch.Size((1, 1, 8, 8)), torch.Generator(), torch.device("cpu"))


@pytest.mark.realdata
def test_real_prostate_mask_rotation_agrees_with_simpleitk_and_keeps_its_volume(shared_data):
    import SimpleITK as sitk

    from MedSegTrain.io import read_image

    label = read_image(shared_data / "promise12-case00-ndaugment" / "Case00_label.nii.gz").array
    labels = torch.from_numpy(label.astype(np.int64))[None, None]
    angles, scale, translate = [[12.0, -7.0, 5.0]], [[1.1, 1.1, 1.1]], [[1.0, -3.0, 2.0]]
    params = _affine_params(1, 3, angles=angles, scale=scale, translate=translate)
    _, ours = Affine().apply(labels.float(), labels.clone(), params)

    # The same map in SimpleITK (index space, x/y/z order): p_in = M (p_out - c) + c + t.
    matrix, offset = affine_parameters(params["angles"], params["scale"], params["translate"])
    reference = sitk.GetImageFromArray(label.astype(np.uint8))
    transform = sitk.AffineTransform(3)
    transform.SetMatrix(matrix[0].double().numpy()[::-1, ::-1].ravel().tolist())
    transform.SetCenter([(size - 1) / 2 for size in reference.GetSize()])
    transform.SetTranslation(offset[0].double().numpy()[::-1].tolist())
    expected = sitk.GetArrayFromImage(
        sitk.Resample(reference, reference, transform, sitk.sitkNearestNeighbor, 0)
    )

    ours_mask, expected_mask = ours[0, 0].numpy() == 1, expected == 1
    dice = 2 * (ours_mask & expected_mask).sum() / (ours_mask.sum() + expected_mask.sum())
    assert dice > 0.995
    assert ours_mask.sum() == pytest.approx(label.sum() * 1.1**3, rel=0.02)  # volume scales by s^3
