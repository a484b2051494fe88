"""The Slicer self-test's check, run outside Slicer on the in-memory workspace (S3).

Slow: it runs the real ``medsegtrain predict`` (the end-to-end GUI test already covers that path
in the fast suite) and, in the second test, retrains the test bundle from its script.
"""

from __future__ import annotations

import sys

import pytest
from MedSegMixupLib.selftest import MIN_MEAN_DICE, TEST_BUNDLE, SelfTestFailure, run_selftest
from MedSegMixupLib.workspace import MemoryWorkspace

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def test_selftest_passes_with_the_committed_bundle(qapp):
    workspace = MemoryWorkspace()
    outcome = run_selftest(workspace, TEST_BUNDLE)
    assert outcome.mean_dice >= MIN_MEAN_DICE
    assert set(outcome.comparison.metrics) == {"central_gland", "peripheral_zone"}
    assert outcome.prediction in workspace.segmentation_ids()


def test_selftest_fails_loudly_when_the_threshold_is_not_met(qapp):
    with pytest.raises(SelfTestFailure, match=r"below 1\.01"):
        run_selftest(MemoryWorkspace(), TEST_BUNDLE, min_mean_dice=1.01)


@pytest.mark.timeout(3600)  # a few CPU minutes of training; much longer on a busy machine
def test_bundle_script_reproduces_a_passing_bundle(qapp, tmp_path, module_dir):
    sys.path.insert(0, str(module_dir / "Testing" / "Python"))
    try:
        import make_test_bundle
    finally:
        sys.path.pop(0)
    bundle = make_test_bundle.train(tmp_path / "prostate_tiny")
    assert sum(f.stat().st_size for f in bundle.iterdir()) < 1_000_000
    outcome = run_selftest(MemoryWorkspace(), bundle)
    assert outcome.mean_dice >= MIN_MEAN_DICE
