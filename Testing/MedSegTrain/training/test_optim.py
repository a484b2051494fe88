"""Optimisers: Lookahead (X8) against a hand-written trajectory, Ranger = RAdam + Lookahead (B7)."""

from __future__ import annotations

import pytest
import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.training.optim import Lookahead, build_optimizer


def test_lookahead_sgd_matches_hand_computation() -> None:
    """alpha = 0.3, not 0.5, so the mutation 'slow += (1 - alpha)(fast - slow)' gives other weights
    (mutation ``train-lookahead-one-minus-alpha``)."""
    # f(w) = w^2 / 2, gradient w; SGD lr 0.1 multiplies w by 0.9 per fast step.
    w = torch.nn.Parameter(torch.tensor([1.0]))
    opt = Lookahead(torch.optim.SGD([w], lr=0.1), k=3, alpha=0.3)
    fast, slow, expected = 1.0, 1.0, []
    for step in range(1, 8):
        fast *= 0.9
        if step % 3 == 0:
            slow = slow + 0.3 * (fast - slow)
            fast = slow
        expected.append(fast)
    got = []
    for _ in range(7):
        opt.zero_grad()
        (0.5 * w**2).sum().backward()
        opt.step()
        got.append(float(w.detach()))
    assert got == pytest.approx(expected, rel=1e-6)


def test_build_optimizer_kinds() -> None:
    params = [torch.nn.Parameter(torch.zeros(2))]
    assert isinstance(build_optimizer(params, {"name": "adamw", "lr": 1e-3}), torch.optim.AdamW)
    sgd = build_optimizer(params, {"name": "sgd", "lr": 0.01, "momentum": 0.99, "nesterov": True})
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["nesterov"]
    ranger = build_optimizer(params, {"name": "ranger", "lr": 1e-4})
    assert isinstance(ranger, Lookahead) and isinstance(ranger.inner, torch.optim.RAdam)
    assert (ranger.k, ranger.alpha) == (6, 0.5)
    adam_la = build_optimizer(params, {"name": "adam", "lr": 5e-4, "lookahead": True})
    assert isinstance(adam_la, Lookahead) and isinstance(adam_la.inner, torch.optim.Adam)


def test_lookahead_state_round_trip_continues_identically() -> None:
    def run(steps: int, resume_at: int | None) -> torch.Tensor:
        torch.manual_seed(0)
        w = torch.nn.Parameter(torch.randn(4))
        opt = build_optimizer([w], {"name": "ranger", "lr": 0.05, "lookahead_k": 2})
        for i in range(steps):
            if resume_at is not None and i == resume_at:
                state = opt.state_dict()
                saved = w.detach().clone()
                w = torch.nn.Parameter(saved)
                opt = build_optimizer([w], {"name": "ranger", "lr": 0.05, "lookahead_k": 2})
                opt.load_state_dict(state)
            opt.zero_grad()
            ((w - 3.0) ** 2).sum().backward()
            opt.step()
        return w.detach()

    assert torch.equal(run(9, None), run(9, 5))


def test_frozen_network_is_a_clear_error() -> None:
    p = torch.nn.Parameter(torch.zeros(1), requires_grad=False)
    with pytest.raises(MedSegError, match="no trainable parameters"):
        build_optimizer([p], {"name": "adam"})
