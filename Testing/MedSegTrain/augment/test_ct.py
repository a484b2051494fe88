"""CT acquisition cues (C4): slice skipping/interpolation hand-checked, range shift by formula."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from MedSegTrain.augment.ct import IntensityRangeShift, SliceInterpolation, SliceSkip


def assert_close(actual: torch.Tensor, expected: torch.Tensor, atol: float) -> None:
    """Elementwise |actual - expected| <= atol (numpy's check, cheaper to import than torch.testing)."""
    np.testing.assert_allclose(actual.double().numpy(), expected.double().numpy(), atol=atol, rtol=0)


def _slices(values: list[float]) -> torch.Tensor:
    """A (1, 2, z, 2, 3) batch whose slice z holds values[z] (channel 1 holds 10 * values[z])."""
    column = torch.tensor(values, dtype=torch.float32).view(1, 1, -1, 1, 1)
    return torch.cat([column, 10 * column], dim=1).expand(1, 2, len(values), 2, 3).clone()


def _params(stride: int, phase: int) -> dict[str, torch.Tensor]:
    return {"applied": torch.tensor([True]), "stride": torch.tensor([stride]), "phase": torch.tensor([phase])}


@pytest.mark.parametrize(
    ("length", "stride", "phase", "expected"),
    [
        (7, 2, 0, [0, 0, 2, 2, 4, 4, 6]),  # ties go to the earlier kept slice
        (8, 3, 1, [1, 1, 1, 4, 4, 4, 7, 7]),
        (6, 4, 3, [3, 3, 3, 3, 3, 3]),  # only slice 3 is kept
        (9, 4, 2, [2, 2, 2, 2, 2, 6, 6, 6, 6]),
    ],
)
def test_slice_skip_repeats_the_nearest_kept_slice(length, stride, phase, expected):
    images = _slices([float(z) for z in range(length)])
    labels = torch.arange(length).view(1, 1, length, 1, 1).expand(1, 1, length, 2, 3).clone()
    out, out_labels = SliceSkip().apply(images.clone(), labels.clone(), _params(stride, phase))
    assert out[0, 0, :, 0, 0].tolist() == expected
    assert out[0, 1, :, 1, 2].tolist() == [10 * v for v in expected]
    assert torch.equal(out_labels, labels)  # the mask keeps the true anatomy


def test_slice_interpolation_is_linear_between_kept_slices():
    values = [float(z * z) for z in range(8)]  # kept slices 1, 4, 7 -> 1, 16, 49
    out, _ = SliceInterpolation().apply(_slices(values), None, _params(3, 1))
    expected = [1, 1, 1 + 15 / 3, 1 + 30 / 3, 16, 16 + 33 / 3, 16 + 66 / 3, 49]
    assert_close(out[0, 0, :, 1, 1], torch.tensor(expected), atol=1e-5)
    assert_close(out[0, 1, :, 0, 2], 10 * torch.tensor(expected), atol=1e-4)


def test_slice_interpolation_of_a_linear_ramp_is_exact_inside_the_kept_range():
    out, _ = SliceInterpolation().apply(_slices([float(z) for z in range(10)]), None, _params(3, 0))
    assert out[0, 0, :, 0, 0].tolist() == pytest.approx([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], abs=1e-5)


def test_slice_transforms_draw_strides_and_phases_in_range_and_act_on_selected_samples():
    transform = SliceSkip(p=0.5, max_stride=4)
    params = transform.sample(
        torch.Size((400, 1, 9, 2, 2)), torch.Generator().manual_seed(0), torch.device("cpu")
    )
    assert set(params["stride"].tolist()) == {2, 3, 4}
    assert torch.all((params["phase"] >= 0) & (params["phase"] < params["stride"]))
    images = torch.randn(400, 1, 9, 2, 2, generator=torch.Generator().manual_seed(1))
    out, _ = transform.apply(images.clone(), None, params)
    untouched = ~params["applied"]
    assert torch.equal(out[untouched], images[untouched])
    assert abs(params["applied"].float().mean().item() - 0.5) < 0.06


def test_slice_transforms_leave_2d_batches_alone_and_warn_once():
    transform = SliceSkip(p=1.0)
    images = torch.randn(3, 1, 8, 8)
    with pytest.warns(UserWarning, match="needs 3D batches"):
        params = transform.sample(images.shape, torch.Generator(), images.device)
    assert not params["applied"].any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        transform.sample(images.shape, torch.Generator(), images.device)


def test_intensity_range_shift_applies_scale_and_shift_to_a_fifth_of_the_samples():
    transform = IntensityRangeShift(p=0.2, shift=(-0.1, 0.1), scale=(0.9, 1.1))
    images = torch.randn(2000, 2, 2, 2, 2, generator=torch.Generator().manual_seed(2))
    params = transform.sample(images.shape, torch.Generator().manual_seed(3), images.device)
    out, _ = transform.apply(images.clone(), None, params)
    applied = params["applied"]
    assert abs(applied.float().mean().item() - 0.2) < 0.03
    scale = params["scale"].view(-1, 1, 1, 1, 1)
    shift = params["shift"].view(-1, 1, 1, 1, 1)
    assert_close(out[applied], (images * scale + shift)[applied], atol=1e-6)
    assert torch.equal(out[~applied], images[~applied])
    assert params["shift"].abs().max() <= 0.1
