"""Many-to-one sequence classifiers: a recurrent core read out as one vector of class logits.

A sequence x_1..x_L (MNIST-1D: L = 40 steps of one value each) runs through an Elman RNN, a
peephole LSTM or a GRU; the logits are a linear read-out of its states,

    readout = "last":  y = W_yz z_L + b_y                          (the lecture's many-to-one)
    readout = "all":   y = W_yz [z_1; z_2; ...; z_L] + b_y         (every state, flattened)

With ``bidirectional`` a second core of its own reads the sequence backwards (x_L..x_1) and
its states join the forward ones: "last" then reads [z_L forward; z_1 backward], "all" reads
[z_t forward; z_t backward] for every t (Schuster & Paliwal 1997).

The MNIST-1D paper's GRU (Greydanus 2020: 91% test accuracy, about 5k weights) is the
bidirectional GRU of 6 units read out by "all": ``sequence_classifier("gru", 40, hidden_size=6,
bidirectional=True, readout="all")``; examples/mnist1d_gru.toml trains it through the CLI.

>>> import torch
>>> net = SequenceClassifier("gru", 40, 10, hidden_size=6, bidirectional=True, readout="all")
>>> net(torch.zeros(3, 40)).shape                 # (N, L) rows or (N, C, L) sequences
torch.Size([3, 10])
>>> sum(p.numel() for p in net.parameters())     # 2 x 3 x 6 x (1 + 6 + 1) + (2 x 6 x 40 + 1) x 10
5098

References: Greydanus (2020), "Scaling down deep learning", arXiv:2011.14439; Schuster &
Paliwal (1997), "Bidirectional recurrent neural networks", IEEE Trans. Signal Processing 45(11).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from ..errors import ConfigError, DataError
from ..nn.recurrent import CORES, build_core
from ..nn.recurrent.base import check_sizes

__all__ = ["SequenceClassifier", "sequence_classifier", "READOUTS"]


def _last(forward: Tensor, backward: Tensor | None) -> Tensor:
    # forward (N, L, H): z_L; backward (N, L, H) in forward time order: its last state is at t = 1
    return forward[:, -1] if backward is None else torch.cat([forward[:, -1], backward[:, 0]], 1)


def _all(forward: Tensor, backward: Tensor | None) -> Tensor:
    Z = forward if backward is None else torch.cat([forward, backward], 2)   # (N, L, H) or (N, L, 2H)
    return Z.flatten(1)                                                       # (N, L * H or L * 2H)


#: readout name -> (features from the forward and backward states, width given L and H per direction)
READOUTS: dict[str, tuple[Callable, Callable[[int, int], int]]] = {
    "last": (_last, lambda L, H: H),
    "all": (_all, lambda L, H: L * H),
}


class SequenceClassifier(nn.Module):
    """A recurrent core (one or two directions) and a linear read-out to class logits.

    forward takes (N, L) one-channel sequences or (N, C, L) (channels first, as
    :class:`~deepnets.nn.image.ToImage` gives them) and returns logits (N, num_classes).

    Args:
        kind: a :data:`~deepnets.nn.recurrent.CORES` name: "elman", "lstm" (peephole), "lstm_nopeep"
            or "gru" (the lecture's form).
        length: L, the sequence length (the "all" read-out's width depends on it).
        num_classes: output logits. Default 10.
        in_channels: C, values per step. Default 1.
        hidden_size: H of each direction. Default 64.
        num_layers: stacked layers with separate weights. Default 1.
        bidirectional: add a backward core. Default False.
        readout: a :data:`READOUTS` name, "last" (z_L) or "all" (every z_t). Default "last".
        **core_options: passed to the core: ``peepholes``, ``forget_bias``, ``variant`` (LSTM gate
            ablations, :data:`~deepnets.nn.recurrent.LSTM_VARIANTS`),
            ``reset_after`` (GRU), ``dropout``, ``bias``.
    """

    def __init__(self, kind: str, length: int, num_classes: int = 10, in_channels: int = 1, *,
                 hidden_size: int = 64, num_layers: int = 1, bidirectional: bool = False,
                 readout: str = "last", **core_options):
        super().__init__()
        if kind not in CORES:
            raise ConfigError(f"unknown recurrent core {kind!r}: expected one of {sorted(CORES)}")
        if readout not in READOUTS:
            raise ConfigError(f"unknown readout {readout!r}: expected one of {sorted(READOUTS)}")
        if not isinstance(bidirectional, bool):
            raise ConfigError(f"bidirectional must be true or false, got {bidirectional!r}")
        check_sizes(length=length, num_classes=num_classes, in_channels=in_channels,
                    hidden_size=hidden_size, num_layers=num_layers)
        cores = [build_core(kind, in_channels, hidden_size, num_layers, **core_options)
                 for _ in range(2 if bidirectional else 1)]
        self.forward_core = cores[0]
        self.backward_core = cores[1] if bidirectional else None
        self.kind, self.length, self.in_channels, self.readout = kind, length, in_channels, readout
        width = READOUTS[readout][1](length, hidden_size) * (2 if bidirectional else 1)
        self.head = nn.Linear(width, num_classes)                    # W_yz, b_y

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2 and self.in_channels == 1:
            x = x.unsqueeze(2)                                       # (N, L) -> (N, L, 1)
        elif x.dim() == 3 and x.shape[1] == self.in_channels:
            x = x.transpose(1, 2)                                    # (N, C, L) -> (N, L, C)
        else:
            raise DataError(f"expected (N, {self.length}) rows or (N, {self.in_channels}, {self.length}) "
                            f"sequences, got {tuple(x.shape)}")
        if x.shape[1] != self.length:
            raise DataError(f"this classifier reads sequences of length {self.length}, got {x.shape[1]}")
        forward, _ = self.forward_core(x)                            # (N, L, H)
        backward = None
        if self.backward_core is not None:
            backward, _ = self.backward_core(x.flip(1))              # (N, L, H), time reversed
            backward = backward.flip(1)                              # back to forward time order
        return self.head(READOUTS[self.readout][0](forward, backward))


def sequence_classifier(kind: str, length: int, num_classes: int = 10, in_channels: int = 1,
                        **options) -> SequenceClassifier:
    """Build a :class:`SequenceClassifier` (the CLI's "elman", "lstm" and "gru" model kinds)."""
    return SequenceClassifier(kind, length, num_classes, in_channels, **options)
