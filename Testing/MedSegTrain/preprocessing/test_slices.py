"""Slice handling: T1 extraction (> 200 px) and label merging, C3 16-slice sampling and downsampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.preprocessing.slices import (
    downsample_inplane,
    extract_slices,
    foreground_per_slice,
    merge_labels,
    sample_slices,
)


def prostate() -> tuple[np.ndarray, np.ndarray]:
    """Slices 2..6 hold 150, 200, 201, 400 and 0+300 (split CG 1 / PZ 2) labelled pixels."""
    label = np.zeros((8, 32, 32), np.uint8)
    label[2].flat[:150] = 1
    label[3].flat[:200] = 1
    label[4].flat[:201] = 2
    label[5].flat[:400] = 1
    label[6].flat[:100] = 1
    label[6].flat[100:300] = 2
    image = np.random.default_rng(0).random((2, 8, 32, 32)).astype(np.float32)
    return image, label


def test_merge_labels_central_gland_and_peripheral_zone() -> None:
    label = np.array([[0, 1, 2, 3]], dtype=np.uint8)
    out = merge_labels(label, {1: 1, 2: 1})
    np.testing.assert_array_equal(out, [[0, 1, 1, 3]])
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(label, [[0, 1, 2, 3]])  # input untouched
    with pytest.raises(MedSegError, match="integer"):
        merge_labels(np.zeros(3, np.float32), {1: 1})


def test_extract_slices_keeps_only_masks_above_200_pixels() -> None:
    image, label = prostate()
    images, labels, index = extract_slices(image, label, min_pixels=200, merge={2: 1})
    np.testing.assert_array_equal(index, [4, 5, 6])  # 150 and exactly 200 are not "bigger than 200"
    assert images.shape == (3, 2, 32, 32) and labels.shape == (3, 32, 32)
    np.testing.assert_array_equal(images, image[:, [4, 5, 6]].transpose(1, 0, 2, 3))
    assert set(np.unique(labels)) == {0, 1}
    np.testing.assert_array_equal(foreground_per_slice(label), [0, 0, 150, 200, 201, 400, 300, 0])


def test_sample_slices_in_training_never_returns_background_slices() -> None:
    image, label = prostate()
    rng = np.random.default_rng(5)
    fg = set(np.flatnonzero(foreground_per_slice(label)))
    for _ in range(20):
        sub_img, sub_lab, index = sample_slices(image, label, n_slices=3, rng=rng)
        assert set(index) <= fg
        assert np.all(np.diff(index) > 0)  # anatomical order, no repeats when enough candidates
        assert all(s.any() for s in sub_lab)
        np.testing.assert_array_equal(sub_img, image[:, index])


def test_sample_slices_pads_with_repeats_and_inference_uses_all_slices() -> None:
    image, label = prostate()
    _, sub_lab, index = sample_slices(image, label, n_slices=16, rng=np.random.default_rng(1))
    assert index.size == 16 and set(index) == {2, 3, 4, 5, 6}  # every candidate, then repeats
    assert all(s.any() for s in sub_lab)
    _, _, index = sample_slices(image, label, n_slices=8, rng=np.random.default_rng(1), training=False)
    np.testing.assert_array_equal(index, np.arange(8))


def test_same_seed_same_slices() -> None:
    image, label = prostate()
    a = sample_slices(image, label, 3, np.random.default_rng(42))[2]
    b = sample_slices(image, label, 3, np.random.default_rng(42))[2]
    np.testing.assert_array_equal(a, b)
    with pytest.raises(MedSegError, match="Generator"):
        sample_slices(image, label, 3, None)


def test_downsample_512_to_128_matches_torch_average_pooling() -> None:
    data = np.random.default_rng(2).random((3, 512, 512)).astype(np.float32)
    expected = torch.nn.functional.avg_pool2d(torch.from_numpy(data)[None], 4)[0].numpy()
    np.testing.assert_allclose(downsample_inplane(data, (128, 128)), expected, atol=1e-6)


def test_downsample_labels_keep_values_and_non_integer_factors() -> None:
    label = np.zeros((2, 8, 8), np.uint8)
    label[:, :4, :4] = 3
    out = downsample_inplane(label, (2, 2), is_label=True)
    np.testing.assert_array_equal(out, [[[3, 0], [0, 0]]] * 2)
    odd = downsample_inplane(label, (3, 5), is_label=True)
    assert odd.shape == (2, 3, 5) and set(np.unique(odd)) <= {0, 3}
    ramp = np.tile(np.arange(10, dtype=np.float32), (10, 1))
    np.testing.assert_allclose(downsample_inplane(ramp, (10, 4))[0], [0.75, 3.25, 5.75, 8.25], atol=1e-5)
