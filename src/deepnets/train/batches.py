"""The batch contract of :func:`deepnets.fit`: where batches come from and what the loss sees.

``fit(model, data, loss=...)`` takes ``data`` in one of three forms:

- **tensors** ``(x, y)``, or any tuple of same-length tensors ``(t_1, ..., t_k)``: batched by a
  :class:`TensorBatches` (a fresh permutation each epoch, drawn from ``fit``'s seeded generator);
- **a resumable batch source**: any object with ``new_order(generator)`` (this epoch's order,
  plain data that a checkpoint can hold) and ``iterate(order, start=0)`` (the epoch's batches
  from batch ``start`` on), as :class:`TensorBatches` has; the loop keeps the order, so a run
  interrupted mid-epoch resumes on exactly the batches it had left;
- **any iterable of batches** (a ``DataLoader``): iterated once per epoch; a resumed epoch skips
  the batches already done (exact only when the iterable repeats its order).

A batch is a tuple (or list) of tensors; its sample count, which weights it in the epoch's mean
loss, is the length of its first tensor. The loss decides how a batch is read:

- a loss name, a :class:`~deepnets.losses.Loss` or a callable ``(pred, target)``:
  ``E = loss(model(batch[0]), batch[1])``;
- a :class:`BatchLoss` (a subclass, or a function marked by :func:`batch_loss`):
  ``E = loss(model, batch)``, a scalar tensor. Sequence models, captioners and language models
  read their batches this way (``(src, tgt)`` token ids, a hidden state carried across batches).
  A batch loss that is also a :class:`~deepnets.train.callbacks.Callback` is added to the
  callbacks by ``fit``, so its state (``state_dict``) is checkpointed and resumed with the run.

>>> x, y = torch.arange(5.0), torch.arange(5) * 10
>>> [[t.tolist() for t in b] for b in TensorBatches(x, y, batch_size=2, shuffle=False)]
[[[0.0, 1.0], [0, 10]], [[2.0, 3.0], [20, 30]], [[4.0], [40]]]
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Iterator, Protocol, runtime_checkable

import torch
from torch import Tensor

from ..errors import ConfigError, DataError


@runtime_checkable
class BatchSource(Protocol):
    """Batches that a run can resume mid-epoch: the order is drawn once per epoch and kept."""

    def new_order(self, generator: torch.Generator | None = None) -> Any: ...

    def iterate(self, order: Any, start: int = 0) -> Iterator: ...


class TensorBatches:
    """Minibatches of same-length tensors ``(t_1, ..., t_k)``: a fresh permutation each epoch,
    batches as slices of the permuted tensors (no per-sample Python, no DataLoader).

    With shuffling, the permuted copies live in buffers reused from epoch to epoch, so a batch is
    valid until the next epoch starts: ``.clone()`` one to keep it longer.

    Args:
        *tensors: one or more tensors with the same first dimension N (e.g. ``x, y`` or
            ``src, tgt``); they are batched and shuffled alike.
        batch_size: samples per batch; None = all N in one batch.
        shuffle: a fresh order every epoch. Default True.
        generator: the order's generator when iterated on its own (``fit`` passes its own,
            seeded one to :meth:`new_order`). Default None: torch's global RNG.

    Raises:
        DataError: no tensors, different lengths, or no samples.
    """

    def __init__(self, *tensors: Tensor, batch_size: int | None, shuffle: bool = True,
                 generator: torch.Generator | None = None):
        if not tensors or not all(isinstance(t, Tensor) for t in tensors):
            raise DataError(f"TensorBatches needs one or more tensors, got {[type(t).__name__ for t in tensors]}")
        lengths = [t.shape[0] if t.dim() else None for t in tensors]
        if len(set(lengths)) != 1 or lengths[0] is None:
            raise DataError(f"the data's tensors must have one length (first dimension), got {lengths}")
        if lengths[0] == 0:
            raise DataError("the data is empty (0 samples)")
        self.tensors = tuple(tensors)
        self.n = lengths[0]
        self.batch_size = self.n if batch_size is None else int(batch_size)
        self.shuffle, self.generator = shuffle and self.batch_size < self.n, generator
        self._buffers: list[Tensor] | None = None

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def new_order(self, generator: torch.Generator | None = None) -> Tensor | None:
        """This epoch's permutation (drawn from ``generator``, default ``self.generator``), or
        None when not shuffling."""
        g = self.generator if generator is None else generator
        return torch.randperm(self.n, generator=g) if self.shuffle else None

    def iterate(self, order: Tensor | None, start: int = 0):
        """Batches ``start, start + 1, ...`` of the epoch whose sample order is ``order``."""
        # (lists, not tuple(generator): no garbage-collector work per epoch, see fit's benchmark)
        tensors = list(self.tensors)
        if order is not None:
            order = order.to(tensors[0].device)
            # permute into buffers kept from epoch to epoch: no fresh (page-faulting) allocation of
            # the whole data set every epoch; the previous epoch's batches are done with by now
            if self._buffers is None:
                self._buffers = [torch.empty_like(t) for t in tensors]
            tensors = [torch.index_select(t, 0, order, out=buf) for t, buf in zip(tensors, self._buffers)]
        bs = self.batch_size
        if bs >= self.n:
            if start == 0:
                yield tuple(tensors)
            return
        # every batch of the epoch as views in one call per tensor, not k slicing ops per step
        yield from itertools.islice(zip(*[t.split(bs) for t in tensors]), start, None)

    def __iter__(self):
        return self.iterate(self.new_order())


def sample_count(batch) -> int:
    """The number of samples in ``batch``: the length of its first tensor (of itself if a tensor)."""
    return batch.shape[0] if isinstance(batch, Tensor) else batch[0].shape[0]  # (not len(): slower)


class BatchLoss:
    """A loss that reads the whole batch: ``loss(model, batch) -> E``, a scalar tensor (the mean
    cost of the batch's samples; :func:`deepnets.fit` weights it by the batch's sample count).

    Subclass it and define ``__call__``; subclass :class:`~deepnets.train.callbacks.Callback` too
    for state carried across batches (``state_dict``/``load_state_dict`` make it resumable).

    >>> class Half(BatchLoss):
    ...     def __call__(self, model, batch):
    ...         x, y = batch
    ...         return 0.5 * ((model(x) - y) ** 2).mean()
    >>> isinstance(Half(), BatchLoss)
    True
    """

    def __call__(self, model: torch.nn.Module, batch) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define __call__(model, batch)")


class _FunctionBatchLoss(BatchLoss):
    def __init__(self, fn: Callable):
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "batch_loss")
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, model, batch):
        return self.fn(model, batch)

    def __repr__(self):
        return f"batch_loss({self.__name__})"


def batch_loss(fn: Callable[[torch.nn.Module, Any], Tensor]) -> BatchLoss:
    """Mark ``fn(model, batch) -> E`` as a :class:`BatchLoss` (usable as a decorator).

    >>> @batch_loss
    ... def mse(model, batch):
    ...     x, y = batch
    ...     return ((model(x) - y) ** 2).mean()
    >>> isinstance(mse, BatchLoss)
    True
    """
    if not callable(fn):
        raise ConfigError(f"batch_loss needs a callable (model, batch) -> E, got {type(fn).__name__}")
    return fn if isinstance(fn, BatchLoss) else _FunctionBatchLoss(fn)
