"""Preprocessing on real scans: TotalSegmentator CT (L4, C1), PROMISE12 MRI (T1, T2), BraTS MRI (B5, B8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from MedSegTrain.io import Volume, read_image
from MedSegTrain.preprocessing.cropping import bounding_box
from MedSegTrain.preprocessing.n4 import _otsu_log_mask, n4_correct
from MedSegTrain.preprocessing.pipeline import recipe
from MedSegTrain.preprocessing.slices import extract_slices
from MedSegTrain.preprocessing.windowing import get_preset

pytestmark = pytest.mark.realdata


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def test_ct_kits_recipe_resamples_and_restores_organ_labels(shared_data: Path) -> None:
    folder = shared_data / "totalseg-example-ct"
    ct = read_image(folder / "example_ct_sm.nii.gz")  # 3 mm, flipped x/y axes
    seg = read_image(folder / "example_seg.nii.gz")
    spec = recipe("kits-mixed-focal")  # L4: clip [-79, 304] HU, z-score, 1.62 x 1.62 x 3.22 mm
    prepared = spec.prepare_image([ct])
    assert prepared.geometry.spacing == (1.62, 1.62, 3.22)
    assert prepared.geometry.direction == ct.direction
    np.testing.assert_allclose(
        np.array(prepared.geometry.physical_bounds()), np.array(ct.geometry.physical_bounds()), atol=1.62
    )
    label = spec.prepare_label(seg, prepared)
    organs = {1: "spleen", 2: "right kidney", 3: "left kidney", 5: "liver"}
    assert set(organs) <= set(np.unique(label))
    voxel_ratio = np.prod(ct.spacing) / np.prod(prepared.geometry.spacing)
    for value in organs:
        assert (label == value).sum() == pytest.approx((seg.array == value).sum() * voxel_ratio, rel=0.05)
    # one-hot on the model grid, back to the CT grid: the organs come back (C1: same grid semantics)
    values = [0, *organs]
    onehot = np.stack([(label == v) for v in values]).astype(np.float32)
    restored = spec.restore(onehot, prepared)
    back = np.asarray(values)[restored.argmax(axis=0)]
    for value in organs:
        assert dice(back == value, seg.array == value) > 0.9


def test_ct_presets_clip_real_hounsfield_units(shared_data: Path) -> None:
    ct = read_image(shared_data / "totalseg-example-ct" / "example_ct_sm.nii.gz")
    for name, (low, high) in {
        "ct-abdomen": (-135, 215),
        "ct-lung": (-1200, 200),
        "ct-bone": (-100, 900),
    }.items():
        out = get_preset(name).apply(ct.array)
        assert out.min() == max(low, ct.array.min()) and out.max() == min(high, ct.array.max())
    low, high = get_preset("ct-percentile").bounds(ct.array)
    assert low == pytest.approx(np.percentile(ct.array, 0.6)) and high == pytest.approx(
        np.percentile(ct.array, 99)
    )


def test_n4_default_mask_covers_the_prostate_and_the_field_is_smooth(shared_data: Path) -> None:
    folder = shared_data / "promise12-case00-ndaugment"
    image = read_image(folder / "Case00_image.nii.gz")
    prostate = read_image(folder / "Case00_label.nii.gz").array > 0
    data = image.array.astype(np.float32)
    default_mask = sitk.GetArrayFromImage(_otsu_log_mask(data, sitk.GetImageFromArray(data))) > 0
    plain_otsu = sitk.GetArrayFromImage(sitk.OtsuThreshold(sitk.GetImageFromArray(data), 0, 1, 200)) > 0
    assert default_mask[prostate].mean() > 0.99
    assert plain_otsu[prostate].mean() < 0.5  # why the default is not SimpleITK's plain Otsu
    corrected = n4_correct(data, image.spacing_zyx, shrink_factor=4, iterations=[20, 20])
    field = data[default_mask] / corrected[default_mask]
    assert np.isfinite(corrected).all()
    assert field.min() > 0.7 and field.max() < 1.4  # a bias field, not a rescaling of the image
    full = np.where(default_mask, data / np.where(corrected > 0, corrected, 1), np.nan)
    assert np.nanmax(np.abs(np.diff(full, axis=2))) < 0.02  # smooth: < 2 % change voxel to voxel


def test_prostate_slices_above_200_pixels(shared_data: Path) -> None:
    folder = shared_data / "promise12-case00-ndaugment"
    image = read_image(folder / "Case00_image.nii.gz")
    label = read_image(folder / "Case00_label.nii.gz")
    _, labels, index = extract_slices(image.array, label.array, min_pixels=200)
    expected = [z for z in range(label.array.shape[0]) if int((label.array[z] > 0).sum()) > 200]
    assert index.tolist() == expected and len(expected) > 0
    assert all(int((s > 0).sum()) > 200 for s in labels)


def test_brats_pipeline_a_crops_to_the_brain_and_pads_to_8(shared_data: Path) -> None:
    folder = shared_data / "brats2015-deepmedic"
    mask = read_image(folder / "brainmasks" / "brats_2013_pat0001_1_brainmask.nii.gz").array > 0
    channels = []
    for name in ("flair", "t1c"):
        vol = read_image(folder / "images" / f"brats_2013_pat0001_1_{name}.nii.gz")
        shifted = (vol.array - vol.array[mask].min() + 1.0) * mask  # skull-stripped, zero background
        channels.append(Volume(shifted.astype(np.float32), vol.spacing, vol.origin, vol.direction))
    spec = recipe("brats-a")  # B5 pipeline A + B8
    prepared = spec.prepare_image(channels)
    assert prepared.context.crop_box == bounding_box(mask)
    assert all(n % 8 == 0 for n in prepared.array.shape[1:])
    inside = prepared.array != 0
    assert prepared.array.min() == 0.0 and prepared.array.max() == 1.0 and inside.any()
    restored = spec.restore(prepared.array, prepared)
    for c in range(2):
        assert np.all(restored[c][~mask] == 0)
        assert (restored[c][mask] > 0).mean() > 0.95  # only the lowest 1 % may map to 0
