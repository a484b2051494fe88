"""Crops and pads (B5, B8, X6): boxes and pads checked by hand and against MONAI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.transforms import CropForeground, DivisiblePad

from MedSegTrain.errors import MedSegError
from MedSegTrain.preprocessing.cropping import (
    bounding_box,
    center_crop_or_pad,
    crop,
    nonzero_box,
    pad_to_multiple,
    uncrop,
    unpad,
)


def test_bounding_box_with_margin_by_hand() -> None:
    mask = np.zeros((10, 12, 14), bool)
    mask[2, 5, 7] = mask[4, 8, 3] = True
    assert bounding_box(mask) == ((2, 5), (5, 9), (3, 8))
    assert bounding_box(mask, 2) == ((0, 7), (3, 11), (1, 10))
    assert bounding_box(mask, (0, 4, 7)) == ((2, 5), (1, 12), (0, 14))  # clamped to the array
    assert bounding_box(np.zeros((3, 3, 3), bool)) is None


def test_nonzero_box_matches_monai_crop_foreground() -> None:
    rng = np.random.default_rng(0)
    data = np.zeros((2, 16, 18, 20), np.float32)
    data[0, 4:9, 3:7, 10:15] = rng.random((5, 4, 5)) + 1
    data[1, 6:12, 5:9, 2:5] = -1.0
    box = nonzero_box(list(data), margin=1)
    expected = CropForeground(select_fn=lambda x: x != 0, margin=1)(torch.from_numpy(data)).numpy()
    np.testing.assert_array_equal(crop(data, box), expected)
    assert nonzero_box([np.zeros((4, 4, 4))]) == ((0, 4), (0, 4), (0, 4))


@pytest.mark.parametrize("shape", [(13, 16, 17), (8, 8, 8), (1, 30, 9)])
def test_pad_to_multiple_of_8_shapes_and_monai_agreement(shape: tuple[int, int, int]) -> None:
    data = np.random.default_rng(1).random((2, *shape)).astype(np.float32)
    padded, pad = pad_to_multiple(data, 8)
    assert all(n % 8 == 0 and n - s < 8 for n, s in zip(padded.shape[1:], shape, strict=True))
    np.testing.assert_array_equal(padded, DivisiblePad(8)(torch.from_numpy(data)).numpy())
    np.testing.assert_array_equal(unpad(padded, pad), data)


def test_pad_widths_by_hand() -> None:
    _, pad = pad_to_multiple(np.zeros((13, 16, 17)), 8)
    assert pad == ((1, 2), (0, 0), (3, 4))


def test_uncrop_places_values_and_fills_per_channel() -> None:
    data = np.arange(2 * 2 * 3 * 1, dtype=np.float32).reshape(2, 2, 3, 1)
    box = ((1, 3), (0, 3), (2, 3))
    out = uncrop(data, box, (4, 3, 4), fill=[1.0, 0.0])
    assert out.shape == (2, 4, 3, 4)
    np.testing.assert_array_equal(out[:, 1:3, 0:3, 2:3], data)
    assert out[0, 0, 0, 0] == 1.0 and out[1, 0, 0, 0] == 0.0
    with pytest.raises(MedSegError, match="fill"):
        uncrop(data, box, (4, 3, 4), fill=[1.0, 0.0, 0.0])


def test_center_crop_or_pad() -> None:
    data = np.arange(5 * 4, dtype=np.float32).reshape(5, 4)
    out = center_crop_or_pad(data, (3, 6))
    np.testing.assert_array_equal(out[:, 1:5], data[1:4])
    assert np.all(out[:, 0] == 0) and np.all(out[:, 5] == 0)


def test_crop_returns_a_copy() -> None:
    data = np.ones((4, 4, 4))
    out = crop(data, ((0, 2), (0, 2), (0, 2)))
    out[...] = 5
    assert np.all(data == 1)


def test_bad_arguments() -> None:
    with pytest.raises(MedSegError, match="margin"):
        bounding_box(np.ones((2, 2, 2), bool), -1)
    with pytest.raises(MedSegError, match="pad multiple"):
        pad_to_multiple(np.ones((2, 2, 2)), 0)
