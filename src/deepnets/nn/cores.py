"""Recurrent cores by name, so models built on tokens pick one with a string.

Each builder returns a batch-first core that follows ``output, state = core(x, state)``:
``"lstm"`` the lecture's peephole LSTM, ``"lstm_nopeep"`` the same without peepholes (torch's
form), ``"gru"`` the lecture's GRU, ``"elman"`` the Elman RNN.

>>> core = build_core("gru", 4, 8)
>>> tuple(core(torch.zeros(2, 5, 4))[0].shape)
(2, 5, 8)
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .gru import GRU
from .lstm import LSTM
from .rnn import ElmanRNN

#: name -> builder(input_size, hidden_size, num_layers, generator) of a batch-first core.
CORES = {
    "lstm": lambda i, h, d, g: LSTM(i, h, d, batch_first=True, generator=g),
    "lstm_nopeep": lambda i, h, d, g: LSTM(i, h, d, peepholes=False, batch_first=True, generator=g),
    "gru": lambda i, h, d, g: GRU(i, h, d, batch_first=True, generator=g),
    "elman": lambda i, h, d, g: ElmanRNN(i, h, d, batch_first=True, generator=g),
}


def build_core(cell: str, input_size: int, hidden_size: int, num_layers: int = 1, *,
               generator: torch.Generator | None = None) -> nn.Module:
    """A batch-first recurrent core of kind ``cell`` (one of :data:`CORES`)."""
    if cell not in CORES:
        raise ConfigError(f"unknown recurrent cell {cell!r}: expected one of {sorted(CORES)}")
    return CORES[cell](input_size, hidden_size, num_layers, generator)
