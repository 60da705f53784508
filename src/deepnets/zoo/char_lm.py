"""A character-level language model: embedding, a recurrent core, a softmax over characters.

For a text x_1 .. x_n of character ids the model reads one character per step and scores the next,

    e_t = E[x_t],   z_t = f_W(z_{t-1}, e_t),   s_t = W_yz z_t + b_y,
    p(x_{t+1} = v | x_1..x_t) = softmax(s_t)_v,

trained by cross-entropy on the next character with truncated BPTT, the state z carried from one
chunk of k characters to the next (:func:`~deepnets.train.tbptt.truncated_bptt`). It is scored
in bits per character (:func:`~deepnets.seq.metrics.evaluate_bpc`) and generates text by
temperature sampling (:func:`~deepnets.seq.sampling.sample`). References: Sutskever, Martens &
Hinton (2011), "Generating text with recurrent neural networks", ICML; Graves (2013),
arXiv 1308.0850; Karpathy, Johnson & Fei-Fei (2015), "Visualizing and understanding recurrent
networks", arXiv 1506.02078.

>>> lm = CharLM(10, embed_size=4, hidden_size=8, cell="gru")
>>> logits, state = lm(torch.zeros(2, 5, dtype=torch.long))
>>> tuple(logits.shape), tuple(state.shape)
((2, 5, 10), (1, 2, 8))
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import DataError
from ..nn.recurrent import build_core
from ..nn.recurrent.base import State, check_sizes
from .recurrent_net import RecurrentNet


class CharLM(nn.Module):
    """Embedding -> recurrent core -> linear read-out over the V characters, every step.

    ``forward(ids (N, L), state) -> (logits (N, L, V), state)``; the state is the core's
    (an LSTM's (z, c), each (D, N, H); a GRU's or Elman's z (D, N, H)).

    Args:
        vocab_size: V (the :class:`~deepnets.seq.vocab.Vocab` size, specials included).
        embed_size: size of the character embedding E (V, embed_size). Default 32.
        hidden_size: H. Default 128.
        num_layers: D. Default 1.
        cell: a name in :data:`~deepnets.nn.recurrent.CORES`. Default ``"lstm"`` (with peepholes).
        generator: seeds every initial weight (embedding N(0, 1), core and read-out
            U(-1/sqrt(H), 1/sqrt(H))); None uses torch's global stream.
    """

    def __init__(self, vocab_size: int, *, embed_size: int = 32, hidden_size: int = 128,
                 num_layers: int = 1, cell: str = "lstm", generator: torch.Generator | None = None):
        super().__init__()
        check_sizes(vocab_size=vocab_size, embed_size=embed_size)
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, embed_size)
        core = build_core(cell, embed_size, hidden_size, num_layers, generator=generator)
        self.net = RecurrentNet(core, vocab_size, mode="many_to_many")
        if generator is not None:
            r = 1.0 / math.sqrt(hidden_size)
            with torch.no_grad():
                self.embed.weight.normal_(generator=generator)
                self.net.readout.weight.uniform_(-r, r, generator=generator)
                self.net.readout.bias.uniform_(-r, r, generator=generator)

    def forward(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise DataError(f"expected int64 character ids (N, L), got {ids.dtype} {tuple(ids.shape)}")
        return self.net(self.embed(ids), state)           # (N, L, E) -> (N, L, V)
