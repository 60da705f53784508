"""The lecture's Elman RNN, z_t = tanh(W_zz z_{t-1} + W_zx x_t + b), stacked with separate weights.

For each layer k and step t (layer k > 0 takes the states of layer k - 1 as its x_t):

    z_t = tanh(W_zx x_t + W_zz z_{t-1} + b)          (the slide writes no b; bias=False is that)

The read-out y_t = W_yz z_t is :class:`~deepnets.nn.recurrent.base.RecurrentNet`'s. The input term
W_zx x_t of all steps is one (L*N, H_in) x (H_in, H) matmul; only W_zz z_{t-1} stays in the loop.
With the same weights (b = b_ih + b_hh) this equals ``torch.nn.RNN(nonlinearity="tanh")``.

Reference: Elman (1990), "Finding structure in time", Cognitive Science 14(2).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import check_sizes, init_uniform_, time_major
from ...errors import ConfigError, DataError


class StackedRecurrent(nn.Module):
    """Shared shell of the single-state cores (Elman RNN, GRU): layers, shapes, state, torch copy.

    A subclass sets ``gates`` (how many H-blocks W_zx stacks), ``torch_class`` and implements
    ``layer(k, x, z0) -> (Z, z_L)`` on time-major tensors.
    """

    gates = 1
    torch_class: type = nn.RNN

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 generator: torch.Generator | None = None):
        super().__init__()
        check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {dropout!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        G, H = self.gates, hidden_size
        for k in range(num_layers):
            fan_in = input_size if k == 0 else H
            self.register_parameter(f"weight_x_l{k}", nn.Parameter(torch.empty(G * H, fan_in)))
            self.register_parameter(f"weight_z_l{k}", nn.Parameter(torch.empty(G * H, H)))
            self.register_parameter(f"bias_l{k}", nn.Parameter(torch.empty(G * H)) if bias else None)
        self.extra_parameters()
        init_uniform_(self.parameters(), H, generator)

    def extra_parameters(self) -> None:
        """Register any parameters beyond W_x, W_z, b (none here)."""

    def layer(self, k: int, x: Tensor, z0: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def input_projection(self, k: int, x: Tensor) -> Tensor:
        """W_x x_t + b for every step at once: (L, N, H_in) -> (L, N, G*H)."""
        W_x, b = getattr(self, f"weight_x_l{k}"), getattr(self, f"bias_l{k}")
        L, N, I = x.shape
        flat = x.reshape(L * N, I)
        a = flat @ W_x.t() if b is None else torch.addmm(b, flat, W_x.t())   # (L*N, I) x (I, G*H)
        return a.view(L, N, -1)

    def forward(self, x: Tensor, state: Tensor | None = None):
        """Run the stack: returns (output (L, N, H), z_L (D, N, H)) (batch_first: (N, L, H))."""
        x, unbatched = time_major(x, self.input_size, self.batch_first)
        L, N, _ = x.shape
        D, H = self.num_layers, self.hidden_size
        if state is None:
            state = x.new_zeros(D, N, H)
        elif unbatched:
            state = state.unsqueeze(1)
        if state.shape != (D, N, H):
            raise DataError(f"expected state of shape {(D, N, H)}, got {tuple(state.shape)}")
        last = []
        for k in range(D):
            x, z = self.layer(k, x, state[k])
            if self.dropout and self.training and k < D - 1:
                x = nn.functional.dropout(x, self.dropout)
            last.append(z)
        z = torch.stack(last)
        if unbatched:
            return x.squeeze(1), z.squeeze(1)
        return (x.transpose(0, 1) if self.batch_first else x), z


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


def copy_from_torch(ours: StackedRecurrent, theirs: nn.RNNBase, sign: Tensor | None = None) -> None:
    """Copy W_ih, W_hh and b_ih + b_hh of every layer into ``ours`` (rows scaled by ``sign``)."""
    s = 1.0 if sign is None else sign.unsqueeze(1)
    with torch.no_grad():
        for k in range(ours.num_layers):
            getattr(ours, f"weight_x_l{k}").copy_(s * getattr(theirs, f"weight_ih_l{k}"))
            getattr(ours, f"weight_z_l{k}").copy_(s * getattr(theirs, f"weight_hh_l{k}"))
            if ours.bias:
                b = getattr(theirs, f"bias_ih_l{k}") + getattr(theirs, f"bias_hh_l{k}")
                getattr(ours, f"bias_l{k}").copy_(b * (1.0 if sign is None else sign))


def copy_to_torch(ours: StackedRecurrent, theirs: nn.RNNBase, sign: Tensor | None = None) -> None:
    """Copy ``ours`` into a torch core: W_ih, W_hh, b_ih = b, b_hh = 0 (rows scaled by ``sign``)."""
    s = 1.0 if sign is None else sign.unsqueeze(1)
    with torch.no_grad():
        for k in range(ours.num_layers):
            getattr(theirs, f"weight_ih_l{k}").copy_(s * getattr(ours, f"weight_x_l{k}"))
            getattr(theirs, f"weight_hh_l{k}").copy_(s * getattr(ours, f"weight_z_l{k}"))
            if ours.bias:
                b = getattr(ours, f"bias_l{k}")
                getattr(theirs, f"bias_ih_l{k}").copy_(b * (1.0 if sign is None else sign))
                getattr(theirs, f"bias_hh_l{k}").zero_()
