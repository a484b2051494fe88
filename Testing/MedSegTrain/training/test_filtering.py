"""B9 filtering: robust z-scores against hand-computed medians and MADs."""

from __future__ import annotations

import pytest

from MedSegTrain.training.filtering import flag_outliers, robust_z


def test_robust_z_hand_computed() -> None:
    losses = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "e": 100.0}
    # median 3, absolute deviations 2, 1, 0, 1, 97 -> MAD 1 -> scale 1.4826
    z = robust_z(losses)
    assert z["e"] == pytest.approx(97 / 1.4826)
    assert z["a"] == pytest.approx(-2 / 1.4826)
    assert flag_outliers(losses, 3.0) == ["e"]


def test_no_outliers_when_all_equal() -> None:
    assert flag_outliers(dict.fromkeys("abc", 0.5)) == []


def test_worst_first() -> None:
    losses = {f"c{i}": 1.0 + 0.01 * i for i in range(10)} | {"x": 5.0, "y": 9.0}
    assert flag_outliers(losses, 3.0) == ["y", "x"]
