"""A recurrent core with the lecture's linear read-out, y_t = W_yz z_t + b_y, under three heads.

The lecture's recurrent network is a state-space model unrolled in time,

    z_t = f_W(z_{t-1}, x_t),        y_t = W_yz z_t,

and what is read off the states z_1..z_L depends on the task: the last state (many-to-one,
classification), every state (many-to-many, tagging and language models) or the states grown
from one input vector (one-to-many, generation). :data:`HEADS` names the three; the core is any
batch-first module following ``output, state = core(x, state)`` (the cores of
:mod:`deepnets.nn.recurrent`, or torch's ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``).

Reference: Elman (1990), "Finding structure in time", Cognitive Science 14(2).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from ..errors import ConfigError, DataError
from ..nn.recurrent.base import State, check_sizes


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
        core: an :class:`~deepnets.nn.recurrent.ElmanRNN`, :class:`~deepnets.nn.recurrent.LSTM`,
            :class:`~deepnets.nn.recurrent.GRU` or torch recurrent module
            built with ``batch_first=True``.
        output_size: H_out.
        mode: one of :data:`HEADS`. Default ``"many_to_many"``.

    >>> from deepnets.nn.recurrent import LSTM
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
