"""The one ``--device`` resolver of training, inference, the chain and the demo.

``auto`` picks CUDA when it is available, else the CPU; ``cuda`` or ``cuda:N`` on a machine
without CUDA (or without device ``N``) is an error the user can fix. A process of a
``torchrun`` job passes its ``local_rank``, so ``auto`` and ``cuda`` mean that process's own GPU.
"""

from __future__ import annotations

import torch

from MedSegTrain.errors import MedSegError


def resolve_device(device: str | torch.device = "auto", local_rank: int | None = None) -> torch.device:
    """``device`` as a ``torch.device``; ``local_rank`` numbers the GPU that ``auto``/``cuda`` mean.

    Without ``local_rank``, ``auto`` and ``cuda`` give ``torch.device("cuda")`` (the current GPU).
    """
    name = str(device)
    index = name[5:] if name.startswith("cuda:") else "0"
    if name not in ("auto", "cpu", "cuda") and not (name.startswith("cuda:") and index.isdigit()):
        raise MedSegError(f"--device must be auto, cpu or cuda[:N], got {name!r}")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise MedSegError(f"--device {name}: CUDA is not available on this machine (use cpu or auto)")
    if name.startswith("cuda:"):
        if int(index) >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise MedSegError(f"--device {name}: this machine has {count} CUDA device(s), numbered from 0")
        return torch.device(name)
    return torch.device("cuda" if local_rank is None else f"cuda:{local_rank}")
