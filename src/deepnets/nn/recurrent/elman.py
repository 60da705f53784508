"""The lecture's Elman RNN, z_t = tanh(W_zz z_{t-1} + W_zx x_t + b), stacked with separate weights.

For each layer k and step t (layer k > 0 takes the states of layer k - 1 as its x_t):

    z_t = tanh(W_zx x_t + W_zz z_{t-1} + b)          (the slide writes no b; bias=False is that)

The read-out y_t = W_yz z_t is :class:`~deepnets.zoo.recurrent_net.RecurrentNet`'s. The input term
W_zx x_t of all steps is one (L*N, H_in) x (H_in, H) matmul; only W_zz z_{t-1} stays in the loop.
With the same weights (b = b_ih + b_hh) this equals ``torch.nn.RNN(nonlinearity="tanh")``.

Reference: Elman (1990), "Finding structure in time", Cognitive Science 14(2).
"""

from __future__ import annotations

import torch
from torch import nn

from ...errors import ConfigError
from .base import StackedRecurrent, copy_from_torch, copy_to_torch


class ElmanRNN(StackedRecurrent):
    """A stack of Elman layers z_t = tanh(W_zx x_t + W_zz z_{t-1} + b), a drop-in for ``nn.RNN``.

    Shapes (N batch, L sequence length, H_in input size, H hidden size, D = num_layers):
    input (L, N, H_in) (or (N, L, H_in) with ``batch_first``, or unbatched (L, H_in));
    state z_0 (D, N, H), zeros if None; output (L, N, H), the last layer's z_t; returned z_L
    (D, N, H).

    Args:
        input_size: H_in.
        hidden_size: H.
        num_layers: D, stacked layers with separate weights. Default 1.
        bias: include b. Default True.
        batch_first: (N, L, ...) tensors. Default False.
        dropout: dropout on the outputs of every layer but the last. Default 0.
        generator: for the U(-1/sqrt(H), 1/sqrt(H)) initialisation.

    >>> rnn = ElmanRNN(3, 4, num_layers=2, batch_first=True)
    >>> y, z = rnn(torch.zeros(2, 6, 3))
    >>> tuple(y.shape), tuple(z.shape)
    ((2, 6, 4), (2, 2, 4))
    """

    def layer(self, k, x, z):
        W_zT = getattr(self, f"weight_z_l{k}").t()       # (H, H)
        outs = []
        for a_t in self.input_projection(k, x).unbind(0):
            z = torch.tanh(torch.addmm(a_t, z, W_zT))     # (N, H) x (H, H)
            outs.append(z)
        return torch.stack(outs), z

    @classmethod
    def from_torch(cls, module: nn.RNN) -> "ElmanRNN":
        """A copy of a unidirectional tanh ``nn.RNN`` (b = b_ih + b_hh)."""
        if module.nonlinearity != "tanh" or module.bidirectional:
            raise ConfigError("from_torch copies unidirectional tanh RNNs only")
        ours = cls(module.input_size, module.hidden_size, module.num_layers, bias=module.bias,
                   batch_first=module.batch_first, dropout=module.dropout)
        copy_from_torch(ours, module)
        return ours

    def to_torch(self) -> nn.RNN:
        """A ``torch.nn.RNN`` with these weights (b_ih = b, b_hh = 0)."""
        theirs = nn.RNN(self.input_size, self.hidden_size, self.num_layers, bias=self.bias,
                        batch_first=self.batch_first, dropout=self.dropout)
        copy_to_torch(self, theirs)
        return theirs
