"""Random draws for augmentation, always from an explicit ``torch.Generator``.

Nothing here reads global random state: a caller passes a generator (or ``None`` for a fresh
one seeded from the operating system), so the same seed always gives the same batch.
Draws happen on the generator's device and are then moved to the data's device.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..errors import MedSegError


def resolve_generator(generator: torch.Generator | None) -> torch.Generator:
    """Return ``generator``, or a fresh CPU generator with a non-deterministic seed when None."""
    if generator is None:
        fresh = torch.Generator()
        fresh.seed()
        return fresh
    if not isinstance(generator, torch.Generator):
        raise MedSegError(f"generator must be a torch.Generator or None, not {type(generator).__name__}")
    return generator


def uniform(
    generator: torch.Generator, shape: Sequence[int], low: float, high: float, device: torch.device
) -> torch.Tensor:
    """Float32 draws from U[low, high) of ``shape`` on ``device``."""
    draws = torch.rand(tuple(shape), generator=generator, device=generator.device)
    return (low + (high - low) * draws).to(device)


def bernoulli(
    generator: torch.Generator, p: float, shape: Sequence[int], device: torch.device
) -> torch.Tensor:
    """Boolean draws that are True with probability ``p``."""
    draws = torch.rand(tuple(shape), generator=generator, device=generator.device)
    return (draws < p).to(device)


def integers(
    generator: torch.Generator, low: int, high: int, shape: Sequence[int], device: torch.device
) -> torch.Tensor:
    """Int64 draws uniform in ``[low, high)``."""
    draws = torch.randint(low, high, tuple(shape), generator=generator, device=generator.device)
    return draws.to(device)


def permutation(generator: torch.Generator, n: int, device: torch.device) -> torch.Tensor:
    """A uniformly random permutation of ``range(n)``."""
    return torch.randperm(n, generator=generator, device=generator.device).to(device)


def beta(generator: torch.Generator, alpha: float, size: int) -> np.ndarray:
    """``size`` draws from Beta(alpha, alpha) as float64.

    ``torch.distributions.Beta`` cannot take a generator, so a 63-bit seed is drawn from the
    torch generator and numpy's PCG64 samples the Beta distribution from it: reproducible
    from the torch generator alone, and exact (numpy's Beta sampler, not an approximation).
    """
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    return np.random.Generator(np.random.PCG64(seed)).beta(alpha, alpha, size=size)
