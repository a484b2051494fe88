"""build_augmentation / Augmenter: config validation, presets, batch fraction (C4), seeds, records."""

from __future__ import annotations

import json

import pytest
import torch

from MedSegTrain.augment import TRANSFORMS, build_augmentation, list_presets
from MedSegTrain.errors import MedSegError


def _batch(n: int = 3, c: int = 1, shape: tuple[int, ...] = (6, 12, 12), seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(n, c, *shape, generator=generator)
    labels = torch.randint(0, 3, (n, 1, *shape), generator=generator)
    return images, labels


FULL_CONFIG = {
    "batch_probability": 1.0,
    "transforms": [
        {"name": "flip", "p": 0.5},
        {"name": "affine", "rotate": 20, "scale": [0.8, 1.2], "translate": 0.1, "p": 1.0},
        {"name": "elastic", "p": 0.5, "max_displacement": 2.0, "control_points": 4},
        {"name": "gaussian_noise", "std": 0.1, "p": 1.0},
        {"name": "slice_skip", "p": 0.5},
    ],
}


def test_same_seed_gives_the_same_batch_and_inputs_stay_untouched():
    images, labels = _batch()
    before = images.clone(), labels.clone()
    augmenter = build_augmentation(FULL_CONFIG)
    first = augmenter(images, labels, torch.Generator().manual_seed(42))
    second = augmenter(images, labels, torch.Generator().manual_seed(42))
    third = augmenter(images, labels, torch.Generator().manual_seed(43))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], third[0])
    assert torch.equal(images, before[0]) and torch.equal(labels, before[1])
    assert first[1].dtype == labels.dtype and set(first[1].unique().tolist()) <= {0, 1, 2}


def test_record_replays_the_same_draws_and_serialises_to_json():
    images, labels = _batch()
    augmenter = build_augmentation(FULL_CONFIG)
    out_images, out_labels = augmenter(images, labels, torch.Generator().manual_seed(7))
    record = augmenter.last_record
    # The flip listed next to affine/elastic is folded into their resampling step.
    assert record.augmented and [name for name, _ in record.steps] == [
        "spatial",
        "gaussian_noise",
        "slice_skip",
    ]
    replayed = augmenter.replay(images, labels, record)
    assert torch.equal(replayed[0], out_images) and torch.equal(replayed[1], out_labels)
    with pytest.raises(MedSegError, match="drawn for a batch of shape"):
        augmenter.replay(images[:2], labels[:2], record)
    as_json = json.loads(json.dumps(record.to_dict()))
    assert as_json["shape"] == list(images.shape)
    assert as_json["steps"][0]["affine.angles"] == record.steps[0][1]["affine.angles"].tolist()
    assert as_json["steps"][0]["flip.flips"] == record.steps[0][1]["flip.flips"].tolist()


def test_batch_probability_sets_the_fraction_of_augmented_batches():
    images, labels = _batch(n=1, shape=(4, 4))
    augmenter = build_augmentation({"batch_probability": 0.8, "transforms": [{"name": "flip", "p": 1.0}]})
    generator = torch.Generator().manual_seed(0)
    augmented = 0
    for _ in range(1000):
        out, _ = augmenter(images, labels, generator)
        augmented += augmenter.last_record.augmented
        assert torch.equal(out, images.flip(2).flip(3)) == augmenter.last_record.augmented
    assert augmented / 1000 == pytest.approx(0.8, abs=0.04)


def test_unaugmented_batches_come_back_unchanged():
    images, labels = _batch()
    out = build_augmentation({"batch_probability": 0.0, "transforms": ["flip"]})(images, labels)
    assert out[0] is images and out[1] is labels
    for empty in (None, {}, {"transforms": []}):
        out = build_augmentation(empty)(images, labels)
        assert out[0] is images and out[1] is labels


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_builds_and_runs(name):
    dims = 2 if name in ("mixup_paper", "ct_cues_2d") else 3
    channels = 4 if name.startswith("brats") else 1
    images, labels = _batch(n=2, c=channels, shape=(8, 16, 16)[-dims:])
    augmenter = build_augmentation(name)
    for seed in range(3):
        out_images, out_labels = augmenter(images, labels, torch.Generator().manual_seed(seed))
        assert out_images.shape == images.shape and out_labels.shape == labels.shape
        assert torch.isfinite(out_images).all()
    assert build_augmentation(augmenter.to_config()).to_config() == augmenter.to_config()


def test_preset_with_overrides():
    augmenter = build_augmentation({"preset": "ct_cues", "batch_probability": 0.9})
    assert augmenter.batch_probability == 0.9
    assert augmenter.transforms[0].name == "spatial"
    augmenter = build_augmentation({"preset": "brats", "transforms": [{"name": "flip", "axes": [0]}]})
    assert [step.name for step in augmenter.transforms] == ["flip"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"transforms": [{"name": "rotate"}]}, r"transforms\[0\]: unknown transform 'rotate'"),
        (
            {"transforms": [{"name": "affine", "rotation": 10}]},
            r"\(affine\): unknown parameter\(s\) rotation",
        ),
        ({"transforms": [{"name": "flip", "p": 1.5}]}, r"'p' must be a probability"),
        ({"transforms": [{"name": "gamma", "range": [1.5, 0.7]}]}, "low <= high"),
        ({"transforms": [{"name": "flip", "axes": [5]}]}, "'axes'"),
        ({"transforms": [{"name": "affine", "padding": "wrap"}]}, "'padding' must be one of"),
        ({"transforms": ["flip", "flip"]}, "listed twice"),
        ({"transforms": [{"p": 0.5}]}, "'name'"),
        ({"transforms": [{"name": ["flip"]}]}, "unknown transform"),
        ({"transforms": {"name": "flip"}}, "must be a list"),
        ({"batch_probability": -0.1}, "batch_probability"),
        ({"preset": "nnunet"}, "preset 'nnunet' is unknown"),
        ({"transform": []}, "unknown key"),
        (3, "mapping or a preset name"),
        (
            {"transforms": [{"name": "affine", "padding": "border"}, {"name": "elastic"}]},
            "same padding",
        ),
    ],
)
def test_bad_configs_are_rejected_with_clear_messages(config, message):
    with pytest.raises(MedSegError, match=message):
        build_augmentation(config)


def test_bad_batches_are_rejected():
    augmenter = build_augmentation("brats")
    images, labels = _batch()
    with pytest.raises(MedSegError, match="float tensor"):
        augmenter(images.long(), labels)
    with pytest.raises(MedSegError, match="do not match"):
        augmenter(images, labels[:, :, :3])
    with pytest.raises(MedSegError, match="at least 2 input channels"):
        augmenter(images, labels, torch.Generator().manual_seed(0))


def test_images_without_labels_and_soft_labels():
    images, labels = _batch()
    augmenter = build_augmentation(FULL_CONFIG)
    out, none = augmenter(images, None, torch.Generator().manual_seed(1))
    assert none is None and out.shape == images.shape
    soft = torch.nn.functional.one_hot(labels[:, 0], 3).movedim(-1, 1).float()
    _, out_soft = augmenter(images, soft, torch.Generator().manual_seed(1))
    assert out_soft.dtype == torch.float32 and out_soft.shape == soft.shape
    assert torch.all(out_soft.sum(1) <= 1 + 1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_the_tensors_device():
    images, labels = _batch()
    augmenter = build_augmentation(FULL_CONFIG)
    generator = torch.Generator(device="cuda").manual_seed(0)
    out_images, out_labels = augmenter(images.cuda(), labels.cuda(), generator)
    assert out_images.is_cuda and out_labels.is_cuda


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_no_transform_modifies_its_inputs(name):
    images, labels = _batch(n=6, c=2, shape=(6, 8, 8), seed=3)
    before = images.clone(), labels.clone()
    augmenter = build_augmentation({"transforms": [{"name": name, "p": 0.2 if name == "flip" else 0.5}]})
    for seed in range(20):  # a draw where some samples change and some do not (the partial path)
        out_images, out_labels = augmenter(images, labels, torch.Generator().manual_seed(seed))
        if 0 < augmenter.last_record.steps[0][1]["applied"].sum() < 6:
            break
    else:
        pytest.fail("no partial draw in 20 seeds")
    assert torch.equal(images, before[0]) and torch.equal(labels, before[1])
    assert not torch.equal(out_images, images) or not torch.equal(out_labels, labels)


def test_the_3d_ct_preset_still_runs_on_2d_batches():
    images, labels = _batch(n=4, shape=(16, 16))
    augmenter = build_augmentation({"preset": "ct_cues", "batch_probability": 1.0})
    with pytest.warns(UserWarning, match="ct_cues_2d"):
        out_images, out_labels = augmenter(images, labels, torch.Generator().manual_seed(0))
    assert out_images.shape == images.shape and out_labels.shape == labels.shape


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_dtypes_are_kept(dtype):
    images, labels = _batch(n=2, shape=(6, 8, 8))
    soft = torch.nn.functional.one_hot(labels[:, 0], 3).movedim(-1, 1).to(dtype)
    augmenter = build_augmentation(FULL_CONFIG)
    out_images, out_soft = augmenter(images.to(dtype), soft, torch.Generator().manual_seed(2))
    _, out_labels = augmenter(images.to(dtype), labels.to(torch.uint8), torch.Generator().manual_seed(2))
    assert out_images.dtype == dtype and out_soft.dtype == dtype and out_labels.dtype == torch.uint8
    assert torch.isfinite(out_images.float()).all()
