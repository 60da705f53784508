"""Recurrent cores: the Elman RNN, the lecture's peephole LSTM and GRU, and the registry by name.

- :mod:`~deepnets.nn.recurrent.base`: input checks, state handling, the stacked shell, torch copies.
- :mod:`~deepnets.nn.recurrent.elman`, :mod:`~deepnets.nn.recurrent.lstm`,
  :mod:`~deepnets.nn.recurrent.gru`: one core each, with its pure-function cell.

:data:`CORES` names them, so models built on tokens pick one with a string; each builder returns
a batch-first core that follows ``output, state = core(x, state)``: ``"lstm"`` the lecture's
peephole LSTM, ``"lstm_nopeep"`` the same without peepholes (torch's form), ``"gru"`` the
lecture's GRU, ``"elman"`` the Elman RNN.

>>> core = build_core("gru", 4, 8)
>>> tuple(core(torch.zeros(2, 5, 4))[0].shape)
(2, 5, 8)
"""

from __future__ import annotations

import torch
from torch import nn

from ...errors import ConfigError
from .base import State, StackedRecurrent, copy_from_torch, copy_to_torch, detach_state
from .elman import ElmanRNN
from .gru import GRU, gru_cell, gru_step
from .lstm import LSTM, LSTMFunction, lstm_cell, lstm_loop
from .lstm_variants import LSTM_VARIANTS, lstm_variant_cell, lstm_variant_loop

__all__ = [
    # the cores, each a drop-in for torch's (output, state = core(x, state))
    "ElmanRNN", "LSTM", "GRU",
    # their pure-function cells and the fused LSTM
    "lstm_cell", "lstm_loop", "LSTMFunction", "gru_cell", "gru_step",
    # the LSTM's gate ablations (Greff et al. 2017): LSTM(..., variant=...)
    "LSTM_VARIANTS", "lstm_variant_cell", "lstm_variant_loop",
    # what they share
    "State", "StackedRecurrent", "detach_state", "copy_from_torch", "copy_to_torch",
    # cores by name
    "CORES", "build_core",
]

#: name -> (core class, fixed options); every core is built batch-first as
#: ``cls(input_size, hidden_size, num_layers, batch_first=True, **fixed, **options)``.
CORES: dict[str, tuple[type, dict]] = {
    "lstm": (LSTM, {}),
    "lstm_nopeep": (LSTM, {"peepholes": False}),
    "gru": (GRU, {}),
    "elman": (ElmanRNN, {}),
}


def build_core(cell: str, input_size: int, hidden_size: int, num_layers: int = 1, *,
               generator: torch.Generator | None = None, **options) -> nn.Module:
    """A batch-first recurrent core of kind ``cell`` (one of :data:`CORES`); ``options`` go to
    the core (``peepholes``, ``forget_bias``, ``variant``, ``reset_after``, ``dropout``, ``bias``)."""
    if cell not in CORES:
        raise ConfigError(f"unknown recurrent cell {cell!r}: expected one of {sorted(CORES)}")
    cls, fixed = CORES[cell]
    try:
        return cls(input_size, hidden_size, num_layers, batch_first=True, generator=generator,
                   **{**fixed, **options})
    except TypeError as e:
        raise ConfigError(f"options for the {cell} core: {e}") from None
