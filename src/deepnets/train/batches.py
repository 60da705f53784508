"""Minibatches of in-memory tensors: a seeded permutation per epoch, batches as slices."""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor


class TensorBatches:
    """Minibatches of tensors ``(x, y)``: a fresh permutation each epoch from ``generator``,
    batches as slices of the permuted tensors (no per-sample Python, no DataLoader).

    With shuffling, the permuted copies live in two buffers reused from epoch to epoch, so a
    batch is valid until the next epoch starts: ``.clone()`` one to keep it longer.
    """

    def __init__(self, x: Tensor, y: Tensor, batch_size: int | None, *, shuffle: bool = True,
                 generator: torch.Generator | None = None):
        self.x, self.y = x, y
        self.n = x.shape[0]
        self.batch_size = self.n if batch_size is None else int(batch_size)
        self.shuffle, self.generator = shuffle and self.batch_size < self.n, generator
        self._buffers: tuple[Tensor, Tensor] | None = None

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def new_order(self) -> Tensor | None:
        """This epoch's permutation (drawn from the generator), or None when not shuffling."""
        return torch.randperm(self.n, generator=self.generator) if self.shuffle else None

    def iterate(self, order: Tensor | None, start: int = 0):
        """Batches ``start, start + 1, ...`` of the epoch whose sample order is ``order``."""
        x, y = self.x, self.y
        if order is not None:
            order = order.to(x.device)
            # permute into buffers kept from epoch to epoch: no fresh (page-faulting) allocation of
            # the whole data set every epoch; the previous epoch's batches are done with by now
            if self._buffers is None:
                self._buffers = (torch.empty_like(x), torch.empty_like(y))
            x = torch.index_select(x, 0, order, out=self._buffers[0])
            y = torch.index_select(y, 0, order, out=self._buffers[1])
        bs = self.batch_size
        if bs >= self.n:
            if start == 0:
                yield x, y
            return
        # every batch of the epoch as views in two calls, not two slicing ops per step
        yield from itertools.islice(zip(x.split(bs), y.split(bs)), start, None)

    def __iter__(self):
        return self.iterate(self.new_order())
