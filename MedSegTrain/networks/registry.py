"""Networks by name, so a bundle can rebuild its model from ``model.json`` alone."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from MedSegTrain.errors import MedSegError

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_network(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Class/function decorator adding a network constructor under ``name``."""

    def add(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"network name {name!r} registered twice")
        _REGISTRY[name] = factory
        return factory

    return add


def list_networks() -> list[str]:
    """Registered network names, sorted."""
    return sorted(_REGISTRY)


def get_network(name: str, **kwargs: Any) -> nn.Module:
    """Build network ``name`` with ``kwargs`` (the same kwargs a bundle stores).

    Unknown names and unknown or missing keyword arguments raise :class:`MedSegError`
    listing what is accepted, instead of a bare ``TypeError``.
    """
    if name not in _REGISTRY:
        raise MedSegError(f"unknown network {name!r}; available: {', '.join(list_networks())}")
    factory = _REGISTRY[name]
    signature = inspect.signature(factory)
    accepted = [p for p in signature.parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise MedSegError(f"network {name!r} does not take {', '.join(unknown)}; "
                          f"its arguments are: {', '.join(accepted)}")
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        raise MedSegError(f"network {name!r}: {exc}") from None
    try:
        return factory(**kwargs)
    except (ValueError, AssertionError, RuntimeError, TypeError) as exc:
        raise MedSegError(f"network.args of {name!r} {kwargs}: cannot build the network ({exc})") from None
