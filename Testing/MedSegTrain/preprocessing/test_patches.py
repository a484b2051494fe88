"""Patch sampling with a foreground ratio (L3, B5)."""

from __future__ import annotations

import numpy as np
import pytest

from MedSegTrain.errors import MedSegError
from MedSegTrain.preprocessing.patches import sample_patches


def volume() -> tuple[np.ndarray, np.ndarray]:
    image = np.random.default_rng(0).random((2, 40, 48, 48)).astype(np.float32)
    label = np.zeros((40, 48, 48), np.uint8)
    label[30:33, 40:44, 2:5] = 1  # a tiny object in a corner
    label[5, 5, 40] = 2  # a single-voxel class
    return image, label


def test_foreground_ratio_is_exact_and_foreground_patches_hit_foreground() -> None:
    image, label = volume()
    out = sample_patches(image, label, (16, 16, 16), n=12, rng=np.random.default_rng(1), foreground_ratio=0.5)
    assert out.images.shape == (12, 2, 16, 16, 16) and out.labels.shape == (12, 16, 16, 16)
    assert out.foreground.sum() == 6
    assert all(lab.any() for lab, fg in zip(out.labels, out.foreground, strict=True) if fg)
    for img, lab, box in zip(out.images, out.labels, out.boxes, strict=True):
        sl = tuple(slice(a, b) for a, b in box)
        np.testing.assert_array_equal(img, image[(slice(None), *sl)])
        np.testing.assert_array_equal(lab, label[sl])


def test_classes_are_drawn_uniformly_so_a_single_voxel_class_is_seen() -> None:
    image, label = volume()
    out = sample_patches(image, label, (8, 8, 8), n=200, rng=np.random.default_rng(2), foreground_ratio=1.0)
    has_two = np.mean([(lab == 2).any() for lab in out.labels])
    assert 0.35 < has_two < 0.65  # about half the patches centre on class 2


def test_ratio_zero_gives_uniform_crops_inside_the_volume() -> None:
    image, label = volume()
    out = sample_patches(image, label, (8, 8, 8), n=300, rng=np.random.default_rng(3), foreground_ratio=0.0)
    starts = np.array([[a for a, _ in box] for box in out.boxes])
    assert starts.min() == 0 and (starts.max(axis=0) == [32, 40, 40]).all()
    assert not out.foreground.any()


def test_small_volumes_are_padded_and_same_seed_same_patches() -> None:
    image = np.ones((1, 4, 30, 30), np.float32)
    label = np.ones((4, 30, 30), np.uint8)
    a = sample_patches(image, label, (8, 16, 16), 4, np.random.default_rng(9))
    b = sample_patches(image, label, (8, 16, 16), 4, np.random.default_rng(9))
    assert a.pad[0] == (2, 2)
    assert a.images.shape == (4, 1, 8, 16, 16)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.boxes == b.boxes


def test_without_label_or_foreground_patches_are_random() -> None:
    image, _ = volume()
    out = sample_patches(image, None, (8, 8, 8), 3, np.random.default_rng(0), foreground_ratio=1.0)
    assert out.labels is None and not out.foreground.any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"patch_size": (8, 8)}, "patch size"),
        ({"foreground_ratio": 1.5}, "foreground ratio"),
        ({"n": 0}, "number of patches"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    image, label = volume()
    args = {"patch_size": (8, 8, 8), "n": 2, "foreground_ratio": 0.3, **kwargs}
    with pytest.raises(MedSegError, match=message):
        sample_patches(image, label, rng=np.random.default_rng(0), **args)
