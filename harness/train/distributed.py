"""Data-parallel training: one trainer process per worker, gradients averaged by DDP.

A trial that needs several GPUs runs `train()` in every worker of a Ray Train `TorchTrainer`
(harness/sweep/data_parallel.py), which initialises `torch.distributed` (NCCL on GPUs, gloo
on CPUs). Inside `train()` these helpers are the only places that know about ranks:

- every rank draws its own batch from (seed, step, rank): the global batch is
  `world_size x train.batch_size`; rank 0 draws exactly what a single process draws;
- only rank 0 writes checkpoints and calls the step hook's side effects (logs, failures).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def world() -> tuple[int, int]:
    """(rank, world size) of this process; (0, 1) outside torch.distributed."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def rank_seed(seed: int, step: int, rank: int) -> list[int]:
    """Entropy of one rank's step: [seed, step] for rank 0 (the single-process stream), else with the rank."""
    return [seed, step] if rank == 0 else [seed, step, rank]


def rank_generator(seed: int, step: int, rank: int) -> torch.Generator:
    """The step's torch generator for a rank > 0 (rank 0 keeps trainer.step_generator's)."""
    state = np.random.SeedSequence(rank_seed(seed, step, rank)).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def wrap_data_parallel(model: nn.Module, device: torch.device) -> nn.Module:
    """DistributedDataParallel around model when running with several workers, else model itself.

    find_unused_parameters: a dropped condition (CFG) or a masked PhD term can leave a branch
    without gradient in some steps; DDP would otherwise wait for it forever.
    """
    _, size = world()
    if size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index or 0] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain network inside a DDP wrapper (what checkpoints store)."""
    return getattr(model, "module", model)


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    import torch.distributed as dist

    if world()[1] > 1:
        dist.barrier()
