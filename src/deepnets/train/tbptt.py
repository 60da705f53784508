"""Truncated back-propagation through time, through :func:`deepnets.fit`: one update per chunk of
k steps of a long sequence.

"How far to unroll? Typically less than 25 steps ... initialize hidden variables from last
unroll": the state carries across chunks of k steps, but the graph is cut between them
(:func:`~deepnets.nn.recurrent.base.detach_state`). Two pieces plug it into ``fit``:
:class:`SequenceChunks`, a batch source that yields the chunks in time order, and
:class:`CarriedStateLoss`, a batch loss (and callback) that runs each chunk from the state the
previous one ended in, so checkpoints hold that state and a resumed run carries on with it.
:func:`truncated_bptt` is the two together for one call.

>>> from deepnets.nn.recurrent import GRU
>>> from deepnets.zoo import RecurrentNet
>>> net = RecurrentNet(GRU(2, 8, batch_first=True), 1)
>>> x, y = torch.randn(4, 30, 2), torch.randn(4, 30, 1)     # (N, L, H_in), (N, L, 1)
>>> loss = CarriedStateLoss(torch.nn.functional.mse_loss)
>>> h = fit(net, SequenceChunks(x, y, k=10), loss=loss, epochs=2, callbacks=[ClipGradNorm(1.0)])
>>> len(h.history["loss"]), tuple(loss.state.shape)        # 3 updates an epoch; z after step 30
(2, (1, 4, 8))

Reference: Williams & Peng (1990), "An efficient gradient-based algorithm for on-line training
of recurrent network trajectories", Neural Computation 2(4).
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import Tensor, nn

from ..errors import ConfigError, DataError
from ..nn.recurrent.base import State, check_sizes, detach_state
from .batches import BatchLoss
from .callbacks import Callback, ClipGradNorm
from .loop import fit

__all__ = ["SequenceChunks", "CarriedStateLoss", "truncated_bptt"]


class SequenceChunks:
    """The chunks of k steps of long batch-first sequences, in time order: a resumable batch source.

    Chunk c of tensors ``(N, L, ...)`` is ``t[:, c k : (c + 1) k]`` given time-major, as
    ``(k, N, ...)`` (torch's recurrent layout), so :func:`~deepnets.fit` weights each chunk's loss
    by its k steps: the epoch's ``loss`` is the mean per step, a short last chunk counting for
    its length. The order is the time order, never shuffled (the state carries from each chunk to
    the next), and a resumed epoch starts at the chunk it had reached.

    Args:
        *tensors: ``(x, y)`` or more tensors sharing their first two dimensions (N, L): N parallel
            rows of one stream (:func:`~deepnets.data.text_corpus.stream_batches`) or N sequences.
        k: the truncation length (the lecture: "typically less than 25 steps").

    Raises:
        ConfigError: k not a positive int.
        DataError: no tensors, a tensor with fewer than 2 dimensions, or different (N, L).

    Reference: Williams & Peng (1990).

    >>> x = torch.arange(10).view(2, 5)                        # (N, L) = (2, 5)
    >>> [c[0].tolist() for c in SequenceChunks(x, x, k=2)]     # (k, N) each, the last one short
    [[[0, 5], [1, 6]], [[2, 7], [3, 8]], [[4, 9]]]
    """

    def __init__(self, *tensors: Tensor, k: int):
        check_sizes(k=k)
        if not tensors or not all(isinstance(t, Tensor) and t.dim() >= 2 for t in tensors):
            raise DataError(f"SequenceChunks needs tensors (N, L, ...), got "
                            f"{[tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__ for t in tensors]}")
        if len({tuple(t.shape[:2]) for t in tensors}) != 1:
            raise DataError(f"x and y must share (N, L), got {[tuple(t.shape) for t in tensors]}")
        self.tensors, self.k, self.length = tuple(tensors), k, tensors[0].shape[1]
        if self.length == 0 or tensors[0].shape[0] == 0:
            raise DataError(f"the sequences are empty: (N, L) = {tuple(tensors[0].shape[:2])}")

    def __len__(self) -> int:
        return math.ceil(self.length / self.k)

    def new_order(self, generator: torch.Generator | None = None) -> None:
        """None: the chunks always come in time order."""
        return None

    def iterate(self, order=None, start: int = 0):
        """Chunks ``start, start + 1, ...``, each a tuple of time-major views ``(k, N, ...)``."""
        k = self.k
        for s in range(start * k, self.length, k):
            yield tuple(t[:, s:s + k].transpose(0, 1) for t in self.tensors)  # (N, L, ...) -> (k, N, ...)

    def __iter__(self):
        return self.iterate()


def _to(state: State | None, device) -> State | None:
    if state is None or device is None:
        return state
    if isinstance(state, Tensor):
        return state.to(device)
    return tuple(_to(s, device) for s in state)


class CarriedStateLoss(BatchLoss, Callback):
    """A chunk's loss with the recurrent state carried over from the previous chunk, detached.

    For chunk c: ``ŷ, z_c = model(x_c, z_{c−1}.detach())`` and E_c = ``loss_fn(ŷ, y_c)``; the
    gradient of E_c flows back through the k steps of chunk c only, while the values of the state
    carry over (z_0 = ``state`` at every epoch's start). As a :class:`~deepnets.train.Callback`
    it takes the new state only once the update is done (``on_batch_end``: a line search may
    evaluate a chunk several times) and puts the state in checkpoints (``state_dict``), so a run
    resumed mid-epoch goes on from the state it had reached. :func:`~deepnets.fit` calls it
    first among the callbacks.

    ``fit``'s ``validation`` would run the validation batches from the training state: evaluate a
    carried-state model in a callback instead (e.g. :func:`~deepnets.seq.metrics.evaluate_bpc`).

    Args:
        loss_fn: ``loss_fn(y_hat, y_chunk) -> E``, a scalar (e.g. the mean cross-entropy per step).
        state: z_0, the state every epoch starts from. Default None: the model's zeros.
        batch_first: the model reads ``(N, k, ...)`` (chunks from :class:`SequenceChunks` come
            time-major and are turned back); False passes them as they come. Default True.

    Attributes:
        state: the state the last chunk ended in, detached (the next chunk starts from it).

    Reference: Williams & Peng (1990), the "BPTT(h; h')" family: here h = h' = k.
    """

    def __init__(self, loss_fn: Callable[[Tensor, Tensor], Tensor], *, state: State | None = None,
                 batch_first: bool = True):
        if not callable(loss_fn):
            raise ConfigError(f"loss_fn must be callable (y_hat, y) -> E, got {type(loss_fn).__name__}")
        self.loss_fn, self.batch_first = loss_fn, batch_first
        self.initial = detach_state(state)
        self.state, self._next = self.initial, None

    def __call__(self, model: nn.Module, batch) -> Tensor:
        x, y = batch                                   # (k, N, ...) each
        if self.batch_first:
            x, y = x.transpose(0, 1), y.transpose(0, 1)  # (N, k, ...)
        y_hat, state = model(x, self.state)
        self._next = detach_state(state)
        return self.loss_fn(y_hat, y)

    def on_epoch_begin(self, epoch, logs=None):
        self.state = self.initial

    def on_batch_end(self, batch, logs=None):
        self.state = self._next

    def state_dict(self) -> dict:
        return {"state": self.state}

    def load_state_dict(self, state: dict) -> None:
        device = next((p.device for p in self.loop.params), None) if self.loop is not None else None
        self.state = _to(state["state"], device)


def truncated_bptt(model: nn.Module, x: Tensor, y: Tensor, loss_fn: Callable, optimizer, *, k: int,
                   state: State | None = None, max_norm: float | None = None, epochs: int = 1,
                   callbacks: Iterable[Callback] = (), seed: int | None = None) -> tuple[float, State | None]:
    """Train on long sequences by truncated BPTT: one update per chunk of k steps, the state carried.

    For each chunk x[:, s:s+k] the model starts from the state the previous chunk ended in,
    detached (the values carry over, the graph does not), back-propagates through at most k
    steps, clips the gradient norm (:class:`~deepnets.train.callbacks.ClipGradNorm`: all
    gradients rescaled together so that their joint 2-norm is at most ``max_norm``) and takes an
    optimizer step. It is ``fit(model, SequenceChunks(x, y, k=k), loss=CarriedStateLoss(loss_fn,
    state=state), ...)``: call that yourself for the history, validation callbacks and the rest.

    Args:
        model: ``y_hat, state = model(x_chunk, state)`` with batch-first (N, k, ...) tensors,
            e.g. a :class:`~deepnets.zoo.recurrent_net.RecurrentNet` in ``"many_to_many"`` mode.
        x: inputs (N, L, ...); y: targets (N, L, ...), one per step.
        loss_fn: ``loss_fn(y_hat, y_chunk) -> scalar``.
        optimizer: a ``torch.optim.Optimizer`` over the model's parameters (or a name ``fit`` knows).
        k: the truncation length (the lecture: "typically less than 25 steps").
        state: the state each epoch starts from. Default None: zeros.
        max_norm: clip threshold. Default None: the gradients are left alone.
        epochs: passes over the sequences. Default 1.
        callbacks: more callbacks for ``fit`` (``Checkpointer``, ``GracefulStop``, ``ProgressBar``).
            Default none.
        seed: ``fit``'s seed (torch's global RNG inside the run: dropout). Default None: drawn from
            torch's global RNG, so successive calls differ and ``torch.manual_seed`` repeats them.

    Returns:
        (the last epoch's mean loss per step, the final state, detached).

    Raises:
        DataError: x and y do not share (N, L).
        ConfigError: k or epochs is not a positive int.

    Reference: Williams & Peng (1990); Sutskever (2013), PhD thesis, Sec. 2.8; clipping: Pascanu,
    Mikolov & Bengio (2013).
    """
    check_sizes(epochs=epochs)
    chunks = SequenceChunks(x, y, k=k)
    carried = CarriedStateLoss(loss_fn, state=state)
    clip = [] if max_norm is None else [ClipGradNorm(max_norm)]
    if seed is None:
        seed = int(torch.randint(0, 2 ** 62, ()))
    history = fit(model, chunks, loss=carried, optimizer=optimizer, epochs=epochs, seed=seed,
                  callbacks=[*clip, *callbacks])
    return history.history["loss"][-1], carried.state
