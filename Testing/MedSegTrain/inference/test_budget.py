"""Time and memory budgets (issue 16): the time limit picks TTA variants then members from a timed
window (a fake clock makes the timing exact), the memory guard switches to float16 accumulators
with the same labels, and the runner's nnU-Net-style logit averaging."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.inference.budget import buffer_bytes, choose
from MedSegTrain.inference.predictor import predict_volume
from MedSegTrain.inference.runner import run_ensemble
from MedSegTrain.inference.sliding_window import plan_windows
from MedSegTrain.inference.tta import tta_variants
from MedSegTrain.io import Volume

SHAPE = (9, 11, 13)
LABELS = {"background": 0, "a": 1, "b": 2}


class FakeClock:
    """Every reading is one second after the previous one: one timed forward takes exactly 1 s."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def _volume(seed: int = 0) -> list[Volume]:
    array = np.random.default_rng(seed).normal(size=SHAPE).astype(np.float32)
    return [Volume(array, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))]


def _direct(nets, array: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return (sum(torch.softmax(n(torch.from_numpy(array)[None, None]), 1)[0] for n in nets)
                / len(nets)).numpy()


def test_choose_drops_variants_before_members():
    # 4 windows at 1 s: 5 members x 8 variants = 160 s; 5 x 5 = 100 s fits 100 s.
    assert choose(4, 5, 8, 1.0, 100.0)[:2] == (5, 5)
    # 10 s: not even 5 members x 1 variant (20 s); 2 members x 1 variant = 8 s.
    assert choose(4, 5, 8, 1.0, 10.0)[:2] == (2, 1)
    assert choose(4, 5, 8, 1.0, None)[:2] == (5, 8)
    members, variants, reason = choose(4, 5, 8, 1.0, 0.5)
    assert (members, variants) == (1, 1) and "running that anyway" in reason


def test_time_limit_with_a_fake_clock_uses_what_fits(make_bundle):
    path, nets = make_bundle("three", n_members=3, labels=LABELS)
    n_windows = len(plan_windows(SHAPE, "sliding_window", (8, 8, 8), 0.5).windows)
    limit = 3 * 2 * n_windows * 1.0 + 0.5  # 3 members x 2 variants at 1 s a window
    result = predict_volume([path], _volume(), tta=8, probabilities=True, time_limit=limit,
                            clock=FakeClock())
    assert (result.budget.members, result.budget.variants) == (3, 2)
    assert result.budget.seconds_per_window == 1.0
    assert result.n_predictions == 6
    np.testing.assert_allclose(result.probabilities, _direct(nets, _volume()[0].array), atol=1e-6)


def test_a_tiny_time_limit_runs_one_member_without_tta(make_bundle):
    path, nets = make_bundle("three", n_members=3, labels=LABELS)
    result = predict_volume([path], _volume(), tta=8, probabilities=True, time_limit=1e-9)
    assert (result.budget.members, result.budget.variants, result.n_predictions) == (1, 1, 1)
    np.testing.assert_allclose(result.probabilities, _direct(nets[:1], _volume()[0].array), atol=1e-6)


def test_memory_guard_switches_to_float16_with_the_same_labels(make_bundle):
    path, _nets = make_bundle("two", n_members=2, labels=LABELS)
    plain = predict_volume([path], _volume(), tta=4, probabilities=True)
    voxels = int(np.prod(SHAPE))  # patch 8 fits inside the volume: no padding
    low, high = (buffer_bytes(3, 1, voxels, False, dtype) for dtype in ("float16", "float32"))
    between = (low + high) / 2
    guarded = predict_volume([path], _volume(), tta=4, probabilities=True, max_memory_mb=between / 2**20)
    assert guarded.budget.accumulate == "float16"
    np.testing.assert_array_equal(guarded.label.array, plain.label.array)
    np.testing.assert_allclose(guarded.probabilities, plain.probabilities, atol=5e-3)  # float16 sums
    roomy = predict_volume([path], _volume(), tta=4, max_memory_mb=1000.0)
    assert roomy.budget.accumulate == "float32"


def test_memory_guard_refuses_what_cannot_fit(make_bundle):
    path, _nets = make_bundle("one", labels=LABELS)
    with pytest.raises(MedSegError, match="--max-memory"):
        predict_volume([path], _volume(), max_memory_mb=1e-6)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"time_limit": 0.0}, "--time-limit must be a positive number"),
    ({"time_limit": float("nan")}, "--time-limit must be a positive number"),
    ({"max_memory_mb": -1.0}, "--max-memory must be a positive number"),
])
def test_bad_limits_are_refused(make_bundle, kwargs, message):
    path, _nets = make_bundle("one", labels=LABELS)
    with pytest.raises(MedSegError, match=message):
        predict_volume([path], _volume(), **kwargs)


def test_logit_averaging_activates_once_after_blending(pointwise_network):
    """A pointwise net is flip-equivariant and every window sees the same logits at a voxel, so the
    blended logits are the logits and their softmax is the direct softmax."""
    torch.manual_seed(3)
    net = pointwise_network(out_channels=3).eval()
    x = torch.randn((1, *SHAPE))
    plan = plan_windows(SHAPE, "sliding_window", (8, 8, 8), 0.5)
    out = run_ensemble(x, [net], plan, tta_variants(8), "softmax", average="logits").mean
    with torch.no_grad():
        expected = torch.softmax(net(x[None]), 1)[0]
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    with pytest.raises(MedSegError, match="average='probabilities'"):
        run_ensemble(x, [net], plan, tta_variants(1), "softmax", average="logits", second_moment=True)
