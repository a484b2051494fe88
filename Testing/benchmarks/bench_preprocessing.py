"""Preprocessing vs MONAI and TorchIO on CT- and BraTS-sized volumes (C1, B5, B8, L4).

Run: ``python -m pytest Testing/benchmarks/bench_preprocessing.py -m benchmark -s``

Each step is timed (best of several runs, 2 threads everywhere) against the peers doing the same
thing in the same run, and the outputs are checked to agree, so a speed-up never hides a
different result:

* percentile window + min-max of a 160x512x512 int16 CT (C1, 0.6-99 %):
  ``normalization.percentile_minmax`` vs MONAI ``ScaleIntensityRangePercentiles`` and TorchIO
  ``RescaleIntensity(percentiles=...)``;
* z-score of the non-zero voxels of a 4x155x240x240 BraTS-sized stack (B5): ours vs MONAI
  ``NormalizeIntensity(nonzero=True, channel_wise=True)`` and TorchIO ``ZNormalization``;
* crop to the non-zero box + pad to a multiple of 8 (B5, B8): ours vs MONAI ``CropForeground`` +
  ``DivisiblePad``;
* the whole ``PreprocessingSpec.prepare_image`` (brats-b recipe) vs the equivalent MONAI Compose;
* resampling a 100x256x256 CT to 1.62x1.62x3.22 mm (L4): our SimpleITK path vs MONAI ``Spacing``
  and TorchIO ``Resample`` (timing only: the libraries place the new grid differently).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
import SimpleITK as sitk

from MedSegTrain.io import Volume
from MedSegTrain.preprocessing import cropping
from MedSegTrain.preprocessing.normalization import percentile_minmax, zscore_nonzero
from MedSegTrain.preprocessing.pipeline import recipe
from MedSegTrain.preprocessing.resampling import resample_array, spacing_geometry
from MedSegTrain.preprocessing.windowing import percentiles

pytestmark = pytest.mark.benchmark
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


@pytest.fixture(scope="module", autouse=True)
def two_threads():
    import torch

    previous = torch.get_num_threads(), sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    torch.set_num_threads(2)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)
    yield
    torch.set_num_threads(previous[0])
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(previous[1])


def best_time(function: Callable[[], object], repeats: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def report(title: str, rows: list[tuple[str, float]]) -> None:
    ours = rows[0][1]
    print(f"\n{title}")
    for name, seconds in rows:
        print(f"  {name:34}{seconds * 1e3:9.1f} ms{seconds / ours:7.2f}x")


def synthetic_ct(shape=(160, 512, 512), seed=0) -> np.ndarray:
    """Air, a body of soft tissue with noise, lungs and a spine, in HU (int16)."""
    rng = np.random.default_rng(seed)
    z, y, x = shape
    yy, xx = np.ogrid[:y, :x]
    body = ((yy - y / 2) / (0.4 * y)) ** 2 + ((xx - x / 2) / (0.45 * x)) ** 2 < 1
    lungs = (((yy - 0.45 * y) / (0.2 * y)) ** 2 + ((np.abs(xx - x / 2) - 0.2 * x) / (0.12 * x)) ** 2) < 1
    spine = ((yy - 0.75 * y) / (0.06 * y)) ** 2 + ((xx - x / 2) / (0.05 * x)) ** 2 < 1
    plane = np.full((y, x), -1000, np.int16)
    plane[body] = 40
    plane[lungs & body] = -820
    plane[spine] = 700
    noise = rng.normal(0, 25, (z, y, x)).astype(np.int16)
    return (plane[None] + noise).astype(np.int16)


def synthetic_brats(seed=1) -> np.ndarray:
    """Four skull-stripped MR channels (155x240x240): zero background, gamma-distributed brain."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.ogrid[:155, :240, :240]
    brain = ((zz - 77) / 65) ** 2 + ((yy - 120) / 95) ** 2 + ((xx - 120) / 75) ** 2 < 1
    out = np.zeros((4, 155, 240, 240), np.float32)
    for c in range(4):
        out[c][brain] = rng.gamma(6.0, 60.0 + 20 * c, int(brain.sum())).astype(np.float32)
    return out


def test_percentile_window_on_ct() -> None:
    import torch
    import torchio as tio
    from monai.transforms import ScaleIntensityRangePercentiles

    ct = synthetic_ct()
    ours_t, ours = best_time(lambda: percentile_minmax(ct, 0.6, 99.0, nonzero=False))
    numpy_t, _ = best_time(lambda: np.percentile(ct, (0.6, 99.0)), repeats=2)
    count_t, counted = best_time(lambda: percentiles(ct, (0.6, 99.0)))
    assert counted == tuple(np.percentile(ct, (0.6, 99.0)))
    tensor = torch.from_numpy(ct)
    monai = ScaleIntensityRangePercentiles(0.6, 99.0, 0.0, 1.0, clip=True)
    monai_t, monai_out = best_time(lambda: monai(tensor), repeats=2)
    rescale = tio.RescaleIntensity(out_min_max=(0, 1), percentiles=(0.6, 99.0))
    image = tio.ScalarImage(tensor=tensor.permute(2, 1, 0)[None])
    tio_t, tio_out = best_time(lambda: rescale(image), repeats=2)
    np.testing.assert_allclose(ours, np.asarray(monai_out), atol=1e-5)
    np.testing.assert_allclose(ours, tio_out.data[0].permute(2, 1, 0).numpy(), atol=1e-5)
    report(
        f"percentile window 0.6-99 % + min-max, CT {ct.shape} int16",
        [
            ("MedSegTrain percentile_minmax", ours_t),
            ("MONAI ScaleIntensityRangePercentiles", monai_t),
            ("TorchIO RescaleIntensity", tio_t),
        ],
    )
    report("  of which the two percentiles", [("counting (ours)", count_t), ("np.percentile", numpy_t)])


def test_zscore_nonzero_on_brats() -> None:
    import torch
    import torchio as tio
    from monai.transforms import NormalizeIntensity

    stack = synthetic_brats()
    ours_t, ours = best_time(lambda: np.stack([zscore_nonzero(c) for c in stack]))
    tensor = torch.from_numpy(stack)
    monai = NormalizeIntensity(nonzero=True, channel_wise=True)
    monai_t, monai_out = best_time(lambda: monai(tensor), repeats=2)
    znorm = tio.ZNormalization(masking_method=lambda x: x != 0)
    image = tio.ScalarImage(tensor=tensor)
    tio_t, tio_out = best_time(lambda: znorm(image), repeats=2)
    np.testing.assert_allclose(ours, np.asarray(monai_out), atol=1e-4)
    inside = stack != 0
    np.testing.assert_allclose(ours[inside], tio_out.data.numpy()[inside], atol=1e-3)  # TorchIO: unbiased sd
    report(
        f"z-score of non-zero voxels, BraTS stack {stack.shape}",
        [
            ("MedSegTrain zscore_nonzero", ours_t),
            ("MONAI NormalizeIntensity", monai_t),
            ("TorchIO ZNormalization", tio_t),
        ],
    )


def test_crop_nonzero_and_pad_to_8_on_brats() -> None:
    import torch
    from monai.transforms import CropForeground, DivisiblePad

    stack = synthetic_brats()

    def ours():
        box = cropping.nonzero_box(list(stack))
        return cropping.pad_to_multiple(cropping.crop(stack, box), 8)[0]

    crop_fg = CropForeground(select_fn=lambda x: x != 0)
    pad = DivisiblePad(8)
    tensor = torch.from_numpy(stack)
    ours_t, ours_out = best_time(ours)
    monai_t, monai_out = best_time(lambda: pad(crop_fg(tensor)), repeats=2)
    np.testing.assert_array_equal(ours_out, np.asarray(monai_out))
    report(
        f"crop to non-zero box + pad to x8, BraTS stack {stack.shape}",
        [("MedSegTrain cropping", ours_t), ("MONAI CropForeground+DivisiblePad", monai_t)],
    )


def test_prepare_image_brats_b_against_monai_compose() -> None:
    import torch
    from monai.transforms import Compose, CropForeground, DivisiblePad, NormalizeIntensity

    stack = synthetic_brats()
    channels = [Volume(c, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), IDENTITY) for c in stack]
    spec = recipe("brats-b")
    monai = Compose(
        [
            CropForeground(select_fn=lambda x: x != 0),
            NormalizeIntensity(nonzero=True, channel_wise=True),
            DivisiblePad(8),
        ]
    )
    tensor = torch.from_numpy(stack)
    ours_t, prepared = best_time(lambda: spec.prepare_image(channels))
    monai_t, monai_out = best_time(lambda: monai(tensor), repeats=2)
    np.testing.assert_allclose(prepared.array, np.asarray(monai_out), atol=1e-4)
    report(
        f"whole prepare_image (brats-b: crop, z-score non-zero, pad x8), {stack.shape}",
        [("MedSegTrain PreprocessingSpec", ours_t), ("MONAI Compose", monai_t)],
    )


def simpleitk_linear(array: np.ndarray, source, target) -> np.ndarray:
    """The library route: one SimpleITK resample per channel, nearest-neighbour extrapolation."""
    out = []
    for channel in array:
        image = sitk.GetImageFromArray(channel)
        image.SetSpacing(source.spacing)
        image.SetOrigin(source.origin)
        image.SetDirection(source.direction)
        resampler = sitk.ResampleImageFilter()
        resampler.SetReferenceImage(sitk.Image([int(v) for v in target.size], sitk.sitkFloat32))
        resampler.SetOutputSpacing(target.spacing)
        resampler.SetOutputOrigin(target.origin)
        resampler.SetOutputDirection(target.direction)
        resampler.SetInterpolator(sitk.sitkLinear)
        resampler.SetUseNearestNeighborExtrapolator(True)
        out.append(sitk.GetArrayFromImage(resampler.Execute(image)))
    return np.stack(out)


def test_resample_ct_to_kits_spacing_and_back() -> None:
    import torch
    import torchio as tio
    from monai.data import MetaTensor
    from monai.transforms import Spacing

    ct = synthetic_ct((100, 256, 256)).astype(np.float32)
    volume = Volume(ct, (0.8, 0.8, 2.5), (0.0, 0.0, 0.0), IDENTITY)
    target = spacing_geometry(volume.geometry, (1.62, 1.62, 3.22))
    ours_t, ours = best_time(lambda: resample_array(ct, volume.geometry, target, "linear"))
    sitk_t, by_sitk = best_time(lambda: simpleitk_linear(ct[None], volume.geometry, target)[0], repeats=2)
    inner = (slice(0, -1),) * 3  # SimpleITK turns every axis to nearest on the far rim
    np.testing.assert_allclose(ours[inner], by_sitk[inner], atol=0.05)  # HU; float32 weights vs double
    affine = torch.diag(torch.tensor([0.8, 0.8, 2.5, 1.0], dtype=torch.float64))
    meta = MetaTensor(torch.from_numpy(ct).permute(2, 1, 0)[None], affine=affine)
    spacing = Spacing(pixdim=(1.62, 1.62, 3.22), mode="bilinear")
    monai_t, monai_out = best_time(lambda: spacing(meta), repeats=2)
    image = tio.ScalarImage(tensor=torch.from_numpy(ct).permute(2, 1, 0)[None], affine=affine.numpy())
    resample = tio.Resample((1.62, 1.62, 3.22))
    tio_t, tio_out = best_time(lambda: resample(image), repeats=2)
    print(
        f"\n  output sizes (x, y, z): ours {target.size}, MONAI {tuple(monai_out.shape[1:])}, "
        f"TorchIO {tuple(tio_out.data.shape[1:])}"
    )
    report(
        f"resample CT {ct.shape} 0.8x0.8x2.5 -> 1.62x1.62x3.22 mm, linear",
        [
            ("MedSegTrain (aligned torch kernel)", ours_t),
            ("SimpleITK, same grids", sitk_t),
            ("MONAI Spacing", monai_t),
            ("TorchIO Resample", tio_t),
        ],
    )

    probabilities = np.random.default_rng(2).random((3, *target.shape)).astype(np.float32)
    back_t, back = best_time(
        lambda: resample_array(probabilities, target, volume.geometry, "linear"), repeats=2
    )
    sitk_back_t, sitk_back = best_time(
        lambda: simpleitk_linear(probabilities, target, volume.geometry), repeats=1
    )
    np.testing.assert_allclose(back[(slice(None), *inner)], sitk_back[(slice(None), *inner)], atol=1e-5)
    report(
        f"restore 3 probability maps {probabilities.shape} -> {ct.shape}",
        [("MedSegTrain (aligned torch kernel)", back_t), ("SimpleITK, same grids", sitk_back_t)],
    )
