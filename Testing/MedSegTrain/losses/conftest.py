"""Fixtures of the loss tests: the independent numpy reference and small random inputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch


@pytest.fixture(scope="session")
def ref() -> ModuleType:
    """``numpy_reference.py`` beside this file (loaded by path: the tests use importlib mode)."""
    path = Path(__file__).with_name("numpy_reference.py")
    spec = importlib.util.spec_from_file_location("losses_numpy_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _one_thread():
    """The tensors here are tiny and the machine is shared: one thread avoids pool contention."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def random_case(
    generator: torch.Generator,
    shape: tuple[int, ...] = (2, 3, 5, 6, 4),
    soft: bool = False,
    sigmoid: bool = False,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of ``shape`` and a matching target: labels (N, 1, ...), soft one-hot, or binary regions."""
    n, k, *spatial = shape
    logits = 2 * torch.randn(shape, generator=generator, dtype=dtype)
    if sigmoid:
        if soft:
            return logits, torch.rand(shape, generator=generator, dtype=dtype)
        return logits, (torch.rand(shape, generator=generator) > 0.6).to(dtype)
    if soft:
        return logits, torch.softmax(3 * torch.randn(shape, generator=generator, dtype=dtype), dim=1)
    return logits, torch.randint(0, k, (n, 1, *spatial), generator=generator)


@pytest.fixture
def case():
    """``random_case`` with a fixed seed per call."""

    def make(seed: int = 0, **kwargs):
        return random_case(torch.Generator().manual_seed(seed), **kwargs)

    return make


TARGET_KINDS = ("labels", "soft", "sigmoid_binary", "sigmoid_soft")


@pytest.fixture
def compare(ref, case):
    """Assert ``get_loss(name, **params)`` equals the numpy reference on a random case.

    ``kind`` picks the target (``TARGET_KINDS``); ``spatial`` the spatial shape (2D or 3D).
    """
    from MedSegTrain.losses import get_loss

    def check(name: str, params: dict, kind: str, spatial: tuple[int, ...] = (5, 6, 4), seed: int = 0):
        sigmoid = kind.startswith("sigmoid")
        logits, target = case(seed, shape=(2, 3, *spatial), soft=kind.endswith("soft"), sigmoid=sigmoid)
        if sigmoid:
            params = {**params, "activation": "sigmoid"}
        value = get_loss(name, **params)(logits, target)
        expected = ref.REFERENCES[name](logits.numpy(), target.numpy(), **params)
        assert value.dtype == torch.float64
        assert float(value) == pytest.approx(expected, rel=1e-10, abs=1e-12)

    return check
