"""SWA with restarts (B7): the rate and snapshot timing of :class:`SWAPlan`, by hand, asymmetric periods."""

from __future__ import annotations

import math

import pytest

from MedSegTrain.training.swa import SWAPlan


def test_snapshots_every_k_epochs_within_each_cycle() -> None:
    """5-epoch cycles, a snapshot every 2nd epoch of a cycle: phase epochs (0-based) 1, 3, 6, 8.
    Kills: counting over the whole phase (1, 3, 5, 7, 9), off by one (0, 2, 4, 5, 7, 9), every epoch."""
    plan = SWAPlan({"cycles": 2, "cycle_epochs": 5, "snapshot_every": 2}, 1e-3)
    assert [e for e in range(plan.epochs) if plan.is_snapshot(e)] == [1, 3, 6, 8]


def test_a_period_longer_than_the_cycle_snapshots_each_cycle_end() -> None:
    plan = SWAPlan({"cycles": 3, "cycle_epochs": 2, "snapshot_every": 5}, 1e-3)
    assert [e for e in range(plan.epochs) if plan.is_snapshot(e)] == [1, 3, 5]


def test_restart_rate_decays_by_a_cosine_within_each_cycle() -> None:
    """lr_factor 0.4 of 1e-3, 3-epoch cycles: 4e-4 at each restart, (1 + cos(pi t)) / 2 of it at t."""
    plan = SWAPlan({"cycles": 2, "cycle_epochs": 3, "lr_factor": 0.4}, 1e-3)
    assert plan.lr == pytest.approx(4e-4) and plan.epochs == 6
    assert plan.lr_at(0) == pytest.approx(4e-4)
    assert plan.lr_at(1, 0.5) == pytest.approx(2e-4 * (1 + math.cos(math.pi * 0.5)))  # t = 1.5 / 3
    assert plan.lr_at(2, 0.25) == pytest.approx(2e-4 * (1 + math.cos(math.pi * 2.25 / 3)))
    assert plan.lr_at(3) == pytest.approx(4e-4)  # the restart
    assert plan.lr_at(4, 0.5) == pytest.approx(plan.lr_at(1, 0.5))
