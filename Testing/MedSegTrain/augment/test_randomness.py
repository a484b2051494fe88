"""Random draws come only from the generator passed in."""

from __future__ import annotations

import pytest
import torch

from MedSegTrain.augment.randomness import beta, permutation, resolve_generator, uniform
from MedSegTrain.errors import MedSegError


def test_draws_are_reproducible_from_the_generator_and_ignore_global_state():
    torch.manual_seed(0)
    first = beta(torch.Generator().manual_seed(5), 0.5, 10)
    torch.manual_seed(1)
    second = beta(torch.Generator().manual_seed(5), 0.5, 10)
    assert (first == second).all()
    assert torch.equal(
        permutation(torch.Generator().manual_seed(5), 9, torch.device("cpu")),
        permutation(torch.Generator().manual_seed(5), 9, torch.device("cpu")),
    )


def test_no_generator_means_a_fresh_random_one():
    draws = [uniform(resolve_generator(None), (4,), 0.0, 1.0, torch.device("cpu")) for _ in range(2)]
    assert not torch.equal(draws[0], draws[1])


def test_a_wrong_generator_type_is_a_clear_error():
    with pytest.raises(MedSegError, match=r"torch\.Generator"):
        resolve_generator(42)
