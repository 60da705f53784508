"""Layers and small models."""

from .gru import GRU, gru_cell, gru_step
from .lstm import LSTM, LSTMFunction, lstm_cell, lstm_loop
from .recurrent import HEADS, RecurrentNet, detach_state, truncated_bptt
from .rnn import ElmanRNN

__all__ = [
    # recurrent cores and their pure-function cells
    "ElmanRNN", "LSTM", "GRU", "LSTMFunction", "lstm_cell", "lstm_loop", "gru_cell", "gru_step",
    # heads and training through time
    "RecurrentNet", "HEADS", "truncated_bptt", "detach_state",
]
