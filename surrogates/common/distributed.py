"""Data-parallel training helpers (``torch.distributed``, launched by ``torchrun``).

Each process trains on its share of every global batch: the data order is drawn by a
generator seeded identically on all ranks, global batch ``k`` holds examples
``order[k * B * W:(k + 1) * B * W]`` and rank ``r`` takes the ``r``-th slice of ``B``.
The network is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`, which
averages gradients, so W processes with batch B follow the same loss curve as one
process with batch ``B * W`` (up to floating-point summation order). Only rank 0 writes
checkpoints and metrics.

Example::

    torchrun --nproc-per-node 2 -m apps.cli train --model graph-transformer ...
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistInfo", "all_mean", "barrier", "dist_info", "setup", "wrap"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Rank and world size of this process (0 and 1 without a process group)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """True on the process that writes files."""
        return self.rank == 0


def setup(backend: str = "auto") -> DistInfo:
    """Join the process group described by torchrun's environment, if any.

    Does nothing when a group already exists or ``WORLD_SIZE`` is absent or 1.

    Parameters
    ----------
    backend : {"auto", "gloo", "nccl"}
        ``auto``: nccl when CUDA is available, gloo otherwise.
    """
    if dist.is_available() and not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if backend == "auto":
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
        log.info("joined process group: rank %d of %d (%s)", dist.get_rank(), dist.get_world_size(), backend)
    return dist_info()


def dist_info() -> DistInfo:
    """This process's rank and world size."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return DistInfo()


def all_mean(values: list[float], info: DistInfo, device: torch.device) -> list[float]:
    """Mean of each value over the processes (the values themselves on one process)."""
    if info.world == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / info.world).tolist()


def barrier(info: DistInfo) -> None:
    """Wait for every process (no-op on one process)."""
    if info.world > 1:
        dist.barrier()


def wrap(network: torch.nn.Module, info: DistInfo, device: torch.device) -> torch.nn.Module:
    """The network wrapped in DDP on several processes; itself on one."""
    if info.world == 1:
        return network
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(network, device_ids=ids, broadcast_buffers=False)
