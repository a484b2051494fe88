"""Learning-rate schedules against torch's own schedulers and hand-computed values (T6, B7, L6)."""

from __future__ import annotations

import math

import pytest
import torch

from MedSegTrain.training.schedules import LRSchedule, lr_factor


def _torch_rates(scheduler_factory, steps: int, lr: float = 0.1) -> list[float]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = scheduler_factory(opt)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


def test_cosine_matches_torch_cosine_annealing() -> None:
    steps = 50
    ours = LRSchedule({"name": "cosine", "min_lr": 1e-3}, 0.1)
    ref = _torch_rates(
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=steps, eta_min=1e-3), steps
    )
    assert [ours.lr_at(i / steps) for i in range(steps)] == pytest.approx(ref, rel=1e-9, abs=1e-12)


def test_poly_matches_torch_polynomial() -> None:
    steps = 40
    ours = LRSchedule({"name": "poly", "power": 0.9}, 0.1)
    ref = _torch_rates(
        lambda o: torch.optim.lr_scheduler.PolynomialLR(o, total_iters=steps, power=0.9), steps
    )
    assert [ours.lr_at(i / steps) for i in range(steps)] == pytest.approx(ref, rel=1e-9)


def test_poly_decays_to_min_lr() -> None:  # L6: 3e-4 -> 1e-6
    s = LRSchedule({"name": "poly", "power": 1.0, "min_lr": 1e-6}, 3e-4)
    assert s.lr_at(0.0) == pytest.approx(3e-4)
    assert s.lr_at(0.5) == pytest.approx(1e-6 + 0.5 * (3e-4 - 1e-6))
    assert s.lr_at(1.0) == pytest.approx(1e-6)


def test_cosine_after_half() -> None:  # B7: constant for half the epochs, then cosine decay
    assert lr_factor("cosine_after", 0.3, start_fraction=0.5) == 1.0
    assert lr_factor("cosine_after", 0.75, start_fraction=0.5) == pytest.approx(0.5)
    assert lr_factor("cosine_after", 0.625, start_fraction=0.5) == pytest.approx(
        0.5 * (1 + math.cos(math.pi / 4))
    )
    assert lr_factor("cosine_after", 1.0, start_fraction=0.5) == pytest.approx(0.0)


def test_warmup_and_constant() -> None:
    s = LRSchedule({"name": "constant", "warmup_steps": 4}, 0.2)
    assert [s.lr_at(0.0, step) for step in range(6)] == pytest.approx([0.05, 0.1, 0.15, 0.2, 0.2, 0.2])


def test_cosine_after_an_asymmetric_start() -> None:
    """start 0.3: the decay spans the remaining 0.7 (with 0.5 the span equals the start and hides it)."""
    assert lr_factor("cosine_after", 0.3, start_fraction=0.3) == 1.0
    expected = 0.5 * (1 + math.cos(0.3 * math.pi))  # (0.51 - 0.3) / 0.7 = 0.3 of the decay
    assert lr_factor("cosine_after", 0.51, start_fraction=0.3) == pytest.approx(expected)
    assert LRSchedule({"name": "cosine_after", "start_fraction": 0.3, "min_lr": 0.01}, 0.11).lr_at(1.0) == (
        pytest.approx(0.01)
    )
