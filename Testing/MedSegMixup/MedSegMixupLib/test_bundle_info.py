"""Bundle summaries for the inference panel, and ensemble consistency."""

from __future__ import annotations

import shutil

import pytest
from MedSegMixupLib.bundle_info import BundleError, ensemble_problem, headline_dice, read_bundle_summary


def test_summary_of_folder_and_zip(tiny_bundle, tmp_path):
    for path in (tiny_bundle, shutil.make_archive(str(tmp_path / "b"), "zip", tiny_bundle)):
        summary = read_bundle_summary(path)
        assert summary.network == "unet"
        assert summary.channels == ("T2",)
        assert summary.segment_labels == {"central_gland": 1, "peripheral_zone": 2}
        assert summary.n_members == 2
        assert summary.window == "mr-percentile"
        assert summary.score_text() == "Dice 0.850"


def test_unreadable_bundles_name_the_file(tmp_path):
    with pytest.raises(BundleError, match="nothing"):
        read_bundle_summary(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="empty"):
        read_bundle_summary(tmp_path / "empty")


def test_headline_dice_variants():
    assert headline_dice({"mean_dice": 0.9}) == 0.9
    assert headline_dice({"dice": {"a": 0.8, "b": 0.6}}) == pytest.approx(0.7)
    assert headline_dice({"hd95": 3.0}) is None


def test_ensemble_must_share_labels_and_channels(tiny_bundle, tmp_path, make_bundle):
    first = read_bundle_summary(tiny_bundle)
    other = read_bundle_summary(make_bundle(tmp_path / "other", labels={"background": 0, "kidney": 1}))
    assert "labels" in ensemble_problem([first, other])
    assert ensemble_problem([first, first]) == ""
