"""Stacked ensembles (C8): top-n per architecture by hand, the stacker's fit against scipy's
optimiser on the same objective, and a stacker that learns to trust the better member."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from MedSegTrain.errors import MedSegError
from MedSegTrain.inference.stacking import (
    LinearStacker,
    MemberScore,
    fit_stacker,
    member_scores,
    select_top_members,
    stacker_loss,
)


def test_top_n_per_architecture():
    candidates = [MemberScore("msd3d", 0.80, "m0"), MemberScore("unet2d", 0.50, "u0"),
                  MemberScore("msd3d", 0.90, "m1"), MemberScore("msd3d", 0.70, "m2"),
                  MemberScore("unet2d", 0.60, "u1"), MemberScore("unet2d", 0.60, "u2")]
    chosen = [c.member for c in select_top_members(candidates, n=2)]
    assert chosen == ["m1", "m0", "u1", "u2"]


def test_member_scores_read_from_bundles():
    class Bundle:  # the parts of a parsed BundleMeta that ranking reads
        path = "b"
        info = SimpleNamespace(
            network=SimpleNamespace(name="unet"), validation_metrics={"dice": 0.5},
            members=[SimpleNamespace(validation_metrics={"dice": 0.9}),
                     SimpleNamespace(validation_metrics={})])

    scores = member_scores([Bundle()])
    assert [(s.architecture, s.score) for s in scores] == [("unet", 0.9), ("unet", 0.5)]


def _synthetic(n=3000, seed=0):
    """Member 0 is informative, member 1 is noise; K = 2 classes."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, size=n)
    good = np.clip(0.75 * truth + 0.125 + rng.normal(0, 0.15, n), 0.01, 0.99)
    noise = rng.uniform(0.01, 0.99, n)
    probs = np.stack([np.stack([1 - good, good]), np.stack([1 - noise, noise])])  # (M=2, K=2, n)
    return probs, truth


def _scipy_fit(probs, truth, l2):
    m, k, n = probs.shape
    x = probs.reshape(m * k, n)

    onehot = np.eye(k)[truth].T  # (K, n)

    def objective(theta):
        w, b = theta[: k * m * k].reshape(k, m * k), theta[k * m * k:]
        z = w @ x + b[:, None]
        z = z - z.max(0)
        log_p = z - np.log(np.exp(z).sum(0))
        residual = (np.exp(log_p) - onehot) / n
        grad = np.concatenate([(residual @ x.T + 2 * l2 * w).ravel(), residual.sum(1)])
        return -log_p[truth, np.arange(n)].mean() + l2 * (w**2).sum(), grad

    res = minimize(objective, np.zeros(k * m * k + k), jac=True, method="BFGS", options={"gtol": 1e-10})
    return res.fun


def test_fit_reaches_the_same_optimum_as_scipy():
    probs, truth = _synthetic()
    stacker = fit_stacker(probs, truth, "softmax", l2=1e-3)
    w, b = torch.from_numpy(stacker.weight), torch.from_numpy(stacker.bias)

    features, labels = torch.from_numpy(probs.reshape(4, -1)), torch.from_numpy(truth)
    ours = float(stacker_loss(w, b, features, labels, "softmax", 1e-3))
    assert ours == pytest.approx(_scipy_fit(probs, truth, 1e-3), abs=1e-6)


def test_stacker_trusts_the_informative_member_and_beats_the_average():
    probs, truth = _synthetic(seed=1)
    stacker = fit_stacker(probs, truth, "softmax")
    test_probs, test_truth = _synthetic(seed=2)
    stacked = stacker.predict(test_probs)
    averaged = test_probs.mean(0)
    nll = lambda p: -np.log(p[test_truth, np.arange(test_truth.size)]).mean()  # noqa: E731
    assert nll(stacked) < nll(averaged)
    # |weight| on the good member's channels far exceeds that on the noise member's
    assert np.abs(stacker.weight[:, :2]).sum() > 5 * np.abs(stacker.weight[:, 2:]).sum()
    np.testing.assert_allclose(stacked.sum(0), 1.0, atol=1e-6)


def test_sigmoid_stacker_and_round_trip():
    probs, truth = _synthetic(seed=3)
    binary = probs[:, 1:]  # (M, 1, n): the foreground channel as a sigmoid output
    stacker = fit_stacker(binary, truth[None], "sigmoid")
    again = LinearStacker.from_dict(stacker.to_dict())
    np.testing.assert_allclose(again.predict(binary), stacker.predict(binary), atol=1e-7)
    accuracy = ((stacker.predict(binary)[0] >= 0.5) == truth).mean()
    assert accuracy > 0.9


@pytest.mark.parametrize(("target", "message"), [
    (np.zeros(5, int), "does not match"),
    (np.full(3000, 2), "target classes must be 0..1"),
])
def test_bad_targets_are_refused(target, message):
    probs, _ = _synthetic()
    with pytest.raises(MedSegError, match=message):
        fit_stacker(probs, target, "softmax")


def test_predict_refuses_the_wrong_member_count():
    probs, truth = _synthetic(n=200)
    stacker = fit_stacker(probs, truth)
    with pytest.raises(MedSegError, match="fitted for 2 members"):
        stacker.predict(probs[:1])
