"""What every recurrent core shares: input checks, state handling, the stacked shell, torch copies.

The lecture's recurrent network is a state-space model unrolled in time,

    z_t = f_W(z_{t-1}, x_t),        y_t = W_yz z_t,

trained by back-propagation through the unrolled graph, with the gradients of the shared W
summed over time steps. Every core (:class:`~deepnets.nn.recurrent.elman.ElmanRNN`,
:class:`~deepnets.nn.recurrent.lstm.LSTM`, :class:`~deepnets.nn.recurrent.gru.GRU`) follows
``torch.nn.RNN``'s call convention, ``output, state = core(x, state)``, so torch's own
``nn.LSTM`` / ``nn.GRU`` plug in wherever ours do: the read-out heads of
:class:`~deepnets.zoo.recurrent_net.RecurrentNet` and truncated BPTT
(:func:`~deepnets.train.tbptt.truncated_bptt`, which cuts the graph between chunks with
:func:`detach_state`).
"""

from __future__ import annotations

import math
from typing import Iterable

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
