"""Data-parallel training on torch.distributed (DDP): gloo on CPUs, NCCL on GPUs.

Start with torchrun, which sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT:

    torchrun --nproc_per_node 2 -m deepnets train EXP.toml

Every rank holds the whole (small) dataset in memory and draws the same epoch permutation from
the same seed; rank r trains on positions r, r + W, r + 2W, ... of it (DistributedSampler's
interleaving, padded by wrapping around so that every rank takes the same number of steps on
uneven data). DDP averages the gradients, so W ranks with batch B step exactly like one process
with batch W·B on the same samples. Logs, run files and checkpoints are written by rank 0 only.
torch.distributed trusts its peers: run it on trusted networks only.
"""

from __future__ import annotations

import datetime
import gc
import math
import os

import torch
import torch.distributed as dist
from torch import Tensor

from ..errors import ConfigError
from .batches import TensorBatches

#: seconds a collective may wait for the other ranks before failing (nothing hangs for ever)
DEFAULT_TIMEOUT = 300


def world() -> tuple[int, int]:
    """``(rank, world size)``; (0, 1) without torch.distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return world()[0] == 0


def init_from_env(timeout: float = DEFAULT_TIMEOUT) -> tuple[int, int]:
    """Join the process group torchrun describes in the environment (once); ``(rank, world)``."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1 or (dist.is_available() and dist.is_initialized()):
        return world()
    if not dist.is_available():  # pragma: no cover - builds without distributed support
        raise ConfigError("WORLD_SIZE > 1 but this torch has no torch.distributed")
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    td = datetime.timedelta(seconds=timeout)
    rank = int(os.environ["RANK"])
    # torchrun's agent keeps one key-value store across restarts; a fresh key prefix per restart
    # attempt keeps the new group from reading the dead group's addresses (a gloo "connection
    # refused" otherwise, seen with --max-restarts)
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true"
    base = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), size,
                         is_master=rank == 0 and not agent_store, timeout=td)
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    store = dist.PrefixStore(f"deepnets/attempt-{attempt}", base)
    dist.init_process_group(backend, store=store, rank=rank, world_size=size, timeout=td)
    return world()


class ShardedBatches(TensorBatches):
    """This rank's share of each epoch: positions ``rank, rank + W, ...`` of the epoch order,
    padded by wrapping to a multiple of W so every rank has ``ceil(N / W)`` samples."""

    def __init__(self, *tensors: Tensor, batch_size: int | None, rank: int, world_size: int,
                 shuffle: bool = True, generator: torch.Generator | None = None):
        super().__init__(*tensors, batch_size=batch_size, shuffle=shuffle, generator=generator)
        self.rank, self.world_size = rank, world_size
        self.per_rank = math.ceil(self.n / world_size)
        self.shuffle = shuffle  # shuffle even when one rank's batch covers its share
        if batch_size is None:
            self.batch_size = self.per_rank

    def __len__(self) -> int:
        return math.ceil(self.per_rank / self.batch_size)

    def new_order(self, generator: torch.Generator | None = None) -> Tensor:
        g = self.generator if generator is None else generator
        return torch.randperm(self.n, generator=g) if self.shuffle else torch.arange(self.n)

    def iterate(self, order: Tensor | None, start: int = 0):
        order = torch.arange(self.n) if order is None else order
        total = self.per_rank * self.world_size
        padded = torch.cat([order, order[: total - self.n]]) if total > self.n else order  # wrap around
        mine = padded[self.rank::self.world_size].to(self.tensors[0].device)  # (per_rank,)
        tensors = [t[mine] for t in self.tensors]
        bs = self.batch_size
        for i in range(start * bs, self.per_rank, bs):
            yield tuple(t[i:i + bs] for t in tensors)


def all_mean(value: Tensor) -> Tensor:
    """The mean of a scalar tensor over the ranks (itself without torch.distributed)."""
    rank, size = world()
    if size == 1:
        return value
    v = value.detach().clone().float().reshape(1)
    dist.all_reduce(v)
    return (v / size).reshape(())


def all_max(value: int, device=None) -> int:
    """The largest of an integer over the ranks (itself without torch.distributed)."""
    if world()[1] == 1:
        return value
    v = torch.tensor([value], dtype=torch.int64, device=device)
    dist.all_reduce(v, op=dist.ReduceOp.MAX)
    return int(v.item())


def all_gather_rows(value: Tensor) -> Tensor:
    """Every rank's tensor of shape (1,), stacked in rank order, (W,) (itself without torch.distributed)."""
    if world()[1] == 1:
        return value
    parts = [torch.empty_like(value) for _ in range(world()[1])]
    dist.all_gather(parts, value.contiguous())
    return torch.cat(parts)


def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank (itself without torch.distributed)."""
    rank, size = world()
    if size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait for every rank (nothing without torch.distributed)."""
    if world()[1] > 1:
        dist.barrier()


def shutdown(*, wait: bool = True) -> None:
    """Leave the process group together: a barrier (``wait``), then ``destroy_process_group`` (a
    rank that tears down while a peer still talks to it aborts that peer's gloo threads).

    First a garbage collection: the DistributedDataParallel wrapper of a finished ``fit`` lives on
    in a reference cycle and holds the group; left to the interpreter's exit, the group's gloo
    threads were torn down there and a rank aborted now and then ("terminate called without an
    active exception", SIGABRT: 1 run in 11 under load before, none in 40 since)."""
    if dist.is_available() and dist.is_initialized():
        gc.collect()  # the finished run's DDP wrapper, in a cycle, lets go of the group here
        if wait and world()[1] > 1:
            dist.barrier()
        dist.destroy_process_group()
