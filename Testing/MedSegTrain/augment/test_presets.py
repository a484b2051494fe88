"""Presets hold the papers' values (X7, L5, B6, C4) and hand out independent copies."""

from __future__ import annotations

import pytest

from MedSegTrain.augment import get_preset, list_presets
from MedSegTrain.errors import MedSegError


def test_presets_carry_the_papers_values():
    mixup_paper = {entry["name"]: entry for entry in get_preset("mixup_paper")["transforms"]}
    assert mixup_paper["affine"]["rotate"] == [45.0] and mixup_paper["affine"]["scale"] == [0.5, 1.5]
    assert mixup_paper["flip"]["axes"] == [-1]
    brats = {entry["name"]: entry for entry in get_preset("brats")["transforms"]}
    assert brats["gaussian_noise"]["std"] == 0.1 and brats["channel_rescale"]["range"] == [0.9, 1.1]
    assert brats["channel_drop"]["p"] == 0.16
    assert get_preset("ct_cues")["batch_probability"] == 0.8
    assert get_preset("ct_cues_2d")["batch_probability"] == 0.9
    ct = {entry["name"]: entry for entry in get_preset("ct_cues")["transforms"]}
    assert ct["intensity_range_shift"]["p"] == 0.2 and ct["affine"]["rotate"] == [16.0]


def test_get_preset_returns_an_independent_copy():
    preset = get_preset("brats")
    preset["transforms"].clear()
    assert get_preset("brats")["transforms"]


def test_unknown_preset_names_the_choices():
    with pytest.raises(MedSegError, match="mixup_paper"):
        get_preset("nnunet")
    assert list_presets() == sorted(list_presets())
