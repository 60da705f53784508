"""What every recurrent core shares: input checks, state handling, output heads, truncated BPTT.

The lecture's recurrent network is a state-space model unrolled in time,

    z_t = f_W(z_{t-1}, x_t),        y_t = W_yz z_t,

trained by back-propagation through the unrolled graph, with the gradients of the shared W
summed over time steps. "How far to unroll? Typically less than 25 steps ... initialize hidden
variables from last unroll": that is truncated BPTT (:func:`truncated_bptt`), which carries the
state across chunks of k steps but cuts the graph between them (:func:`detach_state`).

Every core here (:class:`~deepnets.nn.recurrent.elman.ElmanRNN`, :class:`~deepnets.nn.recurrent.lstm.LSTM`,
:class:`~deepnets.nn.recurrent.gru.GRU`) follows ``torch.nn.RNN``'s call convention,
``output, state = core(x, state)``, so torch's own ``nn.LSTM`` / ``nn.GRU`` plug into
:class:`RecurrentNet` and :func:`truncated_bptt` as well.

Reference: Williams & Peng (1990), "An efficient gradient-based algorithm for on-line training
of recurrent network trajectories", Neural Computation 2(4) (truncated BPTT).
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import Tensor, nn

from ...errors import ConfigError, DataError

State = Tensor | tuple[Tensor, ...]


def check_sizes(**sizes: int) -> None:
    """Raise ConfigError unless every named size is a positive int."""
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} must be a positive int, got {value!r}")


def time_major(x: Tensor, input_size: int, batch_first: bool) -> tuple[Tensor, bool]:
    """Return x as (L, N, H_in) and whether it came unbatched; DataError on a wrong shape."""
    if not isinstance(x, Tensor):
        raise DataError(f"expected an input tensor, got {type(x).__name__}")
    if x.dim() not in (2, 3) or x.shape[-1] != input_size:
        raise DataError(f"expected input of shape (L, N, {input_size}), (N, L, {input_size}) with "
                        f"batch_first or (L, {input_size}), got {tuple(x.shape)}")
    x, unbatched = (x.unsqueeze(1), True) if x.dim() == 2 else \
        ((x.transpose(0, 1) if batch_first else x), False)
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(f"expected at least one step and one sample, got {tuple(x.shape)} (L, N, H_in)")
    return x, unbatched


def init_uniform_(params: Iterable[Tensor], hidden_size: int,
                  generator: torch.Generator | None = None) -> None:
    """Fill every tensor from U(-1/sqrt(H), 1/sqrt(H)), torch's default for its recurrent cores."""
    r = 1.0 / math.sqrt(hidden_size)
    with torch.no_grad():
        for p in params:
            p.uniform_(-r, r, generator=generator)


def detach_state(state: State | None) -> State | None:
    """Cut the graph behind a hidden state, keeping its values (a tensor or a tuple of them)."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    return tuple(detach_state(s) for s in state)


# ---------------------------------------------------------------------------------------------
# Heads: how the outputs y_t = W_yz z_t are read off the sequence of states.

def _many_to_one(core: nn.Module, x: Tensor, state: State | None, steps: int | None):
    out, state = core(x, state)          # (N, L, H) batch first
    return out[:, -1], state             # (N, H): the last state z_L only


def _many_to_many(core: nn.Module, x: Tensor, state: State | None, steps: int | None):
    return core(x, state)                # (N, L, H): every z_t


def _one_to_many(core: nn.Module, x: Tensor, state: State | None, steps: int | None):
    if steps is None or steps < 1:
        raise ConfigError(f"one_to_many needs steps >= 1, got {steps!r}")
    if x.dim() != 2:
        raise DataError(f"one_to_many expects one input vector per sample (N, H_in), "
                        f"got {tuple(x.shape)}")
    seq = x.new_zeros(x.shape[0], steps, x.shape[1])   # (N, steps, H_in): x at t = 1, then zeros
    seq[:, 0] = x
    return core(seq, state)


HEADS: dict[str, Callable] = {
    "many_to_one": _many_to_one,
    "many_to_many": _many_to_many,
    "one_to_many": _one_to_many,
}


class RecurrentNet(nn.Module):
    """A recurrent core with the lecture's linear read-out y_t = W_yz z_t + b_y.

    Heads (``mode``):

    - ``"many_to_one"``: x (N, L, H_in) -> y (N, H_out) read off the last state z_L
      (sentiment-style classification).
    - ``"many_to_many"``: x (N, L, H_in) -> y (N, L, H_out), one output per step (tagging,
      language models, the truncated-BPTT loop).
    - ``"one_to_many"``: x (N, H_in) -> y (N, steps, H_out); x is the input at t = 1 and the
      later inputs are zero (captioning-style generation from one vector).

    The core must be batch-first and follow ``output, state = core(x, state)``.

    Args:
        core: an :class:`ElmanRNN`, :class:`LSTM`, :class:`GRU` or torch recurrent module
            built with ``batch_first=True``.
        output_size: H_out.
        mode: one of :data:`HEADS`. Default ``"many_to_many"``.

    >>> from deepnets.nn.recurrent.lstm import LSTM
    >>> net = RecurrentNet(LSTM(3, 8, batch_first=True), 2, mode="many_to_one")
    >>> y, (h, c) = net(torch.zeros(5, 7, 3))
    >>> tuple(y.shape), tuple(h.shape)
    ((5, 2), (1, 5, 8))
    """

    def __init__(self, core: nn.Module, output_size: int, *, mode: str = "many_to_many"):
        super().__init__()
        if mode not in HEADS:
            raise ConfigError(f"unknown mode {mode!r}: expected one of {list(HEADS)}")
        if not getattr(core, "batch_first", False):
            raise ConfigError("RecurrentNet needs a core built with batch_first=True")
        check_sizes(output_size=output_size)
        self.core, self.mode = core, mode
        self.readout = nn.Linear(core.hidden_size, output_size)    # W_yz, b_y

    def forward(self, x: Tensor, state: State | None = None, *, steps: int | None = None):
        """Return (y, state); ``steps`` is the output length for ``one_to_many``."""
        z, state = HEADS[self.mode](self.core, x, state, steps)
        return self.readout(z), state


def truncated_bptt(model: nn.Module, x: Tensor, y: Tensor, loss_fn: Callable,
                   optimizer: torch.optim.Optimizer, *, k: int, state: State | None = None,
                   max_norm: float | None = None) -> tuple[float, State | None]:
    """Train on one long sequence by truncated BPTT: one update per chunk of k steps.

    For each chunk x[:, s:s+k] the model starts from the state the previous chunk ended in,
    detached (the values carry over, the graph does not), back-propagates through at most k
    steps, clips the gradient norm with ``torch.nn.utils.clip_grad_norm_`` (rescales all
    gradients together so that their joint 2-norm is at most ``max_norm``: Pascanu, Mikolov &
    Bengio 2013) and takes an optimizer step.

    Args:
        model: ``y_hat, state = model(x_chunk, state)`` with batch-first (N, L, ...) tensors,
            e.g. a :class:`RecurrentNet` in ``"many_to_many"`` mode.
        x: inputs (N, L, H_in); y: targets (N, L, ...), one per step.
        loss_fn: ``loss_fn(y_hat, y_chunk) -> scalar``.
        optimizer: any ``torch.optim.Optimizer`` over the model's parameters.
        k: the truncation length (the lecture: "typically less than 25 steps").
        state: the state to start from (None: zeros).
        max_norm: clip threshold; None leaves the gradients alone.

    Returns:
        (mean of the chunk losses weighted by chunk length, the final state, detached).

    Reference: Williams & Peng (1990); Sutskever (2013), PhD thesis, Sec. 2.8.
    """
    check_sizes(k=k)
    if x.dim() < 2 or y.dim() < 2 or x.shape[:2] != y.shape[:2]:
        raise DataError(f"x and y must share (N, L), got {tuple(x.shape)} and {tuple(y.shape)}")
    total, length = 0.0, x.shape[1]
    for s in range(0, length, k):
        state = detach_state(state)
        y_hat, state = model(x[:, s:s + k], state)
        loss = loss_fn(y_hat, y[:, s:s + k])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        total += loss.item() * min(k, length - s)   # one sync per chunk, not per step
    return total / length, detach_state(state)
