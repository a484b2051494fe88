"""DistributedDataParallel under ``torchrun`` (gloo on CPU, NCCL on GPU) and the reductions it needs.

How the work is shared: every rank draws the same *global* batch from the same seeded stream and
keeps its own slice (rank r takes samples r, r + W, ...), so a W-process run sees exactly the
batches of a single-process run with the same global batch size; DDP averages the gradients.
Validation cases are dealt out round-robin (without the repeats ``DistributedSampler`` pads
with) and the per-case metric sums are
all-reduced, so every rank ends with the same numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

from MedSegTrain.errors import MedSegError


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: rank, world size and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_environment(device: str = "auto") -> DistContext:
    """Join the process group ``torchrun`` describes (``WORLD_SIZE`` > 1); otherwise a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    import torch.distributed as dist

    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    if not dist.is_initialized():
        try:
            dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        except Exception as exc:
            raise MedSegError(f"torchrun: cannot join the process group ({exc})") from None
    if use_cuda:
        torch.cuda.set_device(local)
    return DistContext(rank, world, local)


def shard(batch: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """This rank's part of a global batch (samples rank, rank + W, ...)."""
    if not ctx.active:
        return batch
    if batch.shape[0] % ctx.world_size:
        raise MedSegError(
            f"patch.batch_size {batch.shape[0]} is not divisible by the {ctx.world_size} torchrun processes"
        )
    return batch[ctx.rank :: ctx.world_size]


def all_reduce_sum(values: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum ``values`` over ranks (a copy; unchanged when not distributed)."""
    if not ctx.active:
        return values
    import torch.distributed as dist

    out = values.detach().clone().to(torch.float64)
    backend = dist.get_backend()
    device = torch.device("cuda", ctx.local_rank) if backend == "nccl" else torch.device("cpu")
    out = out.to(device)
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.cpu()


def broadcast_flag(flag: bool, ctx: DistContext) -> bool:
    """True on every rank when any rank says True (used for time budget and NaN stops)."""
    if not ctx.active:
        return flag
    return bool(all_reduce_sum(torch.tensor([1.0 if flag else 0.0]), ctx)[0] > 0)


def local_indices(n: int, ctx: DistContext) -> list[int]:
    """Indices of the ``n`` validation cases this rank evaluates: rank, rank + W, ... (no padding).

    ``DistributedSampler`` would pad with repeated cases, which would count them twice in the sums.
    """
    return list(range(ctx.rank, n, ctx.world_size))


def wrap_model(model: torch.nn.Module, ctx: DistContext, device: torch.device) -> Any:
    """``DistributedDataParallel(model)`` when distributed, the model itself otherwise."""
    if not ctx.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def barrier(ctx: DistContext) -> None:
    """Wait for every rank."""
    if ctx.active:
        import torch.distributed as dist

        dist.barrier()
