"""Atomic training checkpoints and the random streams a resumed run must replay.

A checkpoint is written to a temporary file and renamed, so a kill at any moment leaves either
the previous or the new checkpoint, never a torn one. Loading uses ``torch.load(weights_only=True)``
(no code can run from a checkpoint file); everything in it is tensors, numbers, strings, lists
and dicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import atomic_output_file

LAST = "last.pt"
BEST = "best.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically."""
    with atomic_output_file(Path(path)) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (safe loading only)."""
    path = Path(path)
    if not path.is_file():
        raise MedSegError(f"checkpoint {path}: not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise MedSegError(
            f"checkpoint {path}: cannot be read ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None


def stream_seed(*parts: int) -> int:
    """A 63-bit seed derived from integers (seed, fold, epoch, purpose), stable across runs."""
    import numpy as np

    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


def cpu_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of ``module``'s state dict (unwrapping DDP / AveragedModel)."""
    inner = getattr(module, "module", module)
    return {k: v.detach().to("cpu", copy=True) for k, v in inner.state_dict().items()}
