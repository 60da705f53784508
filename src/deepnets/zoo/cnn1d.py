"""A small 1-D convolutional network for sequences such as MNIST-1D.

Layer l computes, for each of its L_l maps j and position t ("same" padding P = ⌊F/2⌋),

    u_j^(l)(t) = b_j + Σ_i Σ_{k=0}^{F−1} w_jik · z_i^(l−1)(t + k − P),   z^(l) = ReLU(u^(l))

optionally with batch normalization of u before the ReLU; 2-wide max pooling halves the length
after every layer but the first; the last maps are flattened, optionally dropped out (keep
probability p), and a linear layer gives the class logits.

The MNIST-1D paper's CNN (three convolutions of 25 maps, F = 5, stride 2) reaches 94% test
accuracy on the 1,000 test sequences; the default here, 32-64-64 maps with pooling, goes above
that (examples/mnist1d_cnn.toml).

>>> import torch
>>> net = CNN1d(40, 10, channels=(8, 16), kernel_size=5)
>>> net(torch.zeros(3, 40)).shape
torch.Size([3, 10])

Reference: Greydanus (2020), "Scaling down deep learning", arXiv:2011.14439 (MNIST-1D);
LeCun, Bottou, Bengio & Haffner (1998) for the convolution / subsampling pattern.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..errors import ConfigError, DataError
from ..nn.dropout import Dropout

__all__ = ["CNN1d", "cnn1d"]


class CNN1d(nn.Module):
    """Convolution–ReLU layers with max pooling and a linear head over the flattened maps.

    forward takes (N, L) one-channel sequences or (N, C, L) and returns logits (N, classes).

    Args:
        length: L, the input length.
        num_classes: output logits (default 10).
        in_channels: C (default 1).
        channels: maps L_l of each convolution layer (default (32, 64, 64)).
        kernel_size: F, odd (default 5).
        batch_norm: batch-normalize each convolution's output, its bias then dropped (default False).
        keep: keep probability p of dropout before the head (default 1.0: no dropout).
    """

    def __init__(self, length: int, num_classes: int = 10, in_channels: int = 1, *, channels=(32, 64, 64),
                 kernel_size: int = 5, batch_norm: bool = False, keep: float = 1.0):
        super().__init__()
        channels = tuple(channels)
        for name, v in (("length", length), ("num_classes", num_classes), ("in_channels", in_channels),
                        ("kernel_size", kernel_size), *(("channels", c) for c in channels)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"cnn1d {name} must be a positive integer, got {v!r}")
        if not channels:
            raise ConfigError("cnn1d channels must list at least one layer width, got []")
        if kernel_size % 2 == 0:
            raise ConfigError(f"cnn1d kernel_size must be odd (same padding), got {kernel_size}")
        if length >> (len(channels) - 1) < 1:
            raise ConfigError(f"cnn1d: {len(channels) - 1} poolings leave nothing of length {length}")
        self.length, self.in_channels = length, in_channels
        layers, c, n = [], in_channels, length
        for l, width in enumerate(channels):
            if l > 0:
                layers.append(nn.MaxPool1d(2))  # (N, c, n) -> (N, c, n // 2)
                n //= 2
            layers.append(nn.Conv1d(c, width, kernel_size, padding=kernel_size // 2, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.ReLU())
            c = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), Dropout(keep), nn.Linear(c * n, num_classes))  # (N, c*n) -> (N, K)

    def forward(self, x: Tensor) -> Tensor:
        z = x.unsqueeze(1) if x.dim() == 2 else x  # (N, L) -> (N, 1, L)
        if z.dim() != 3 or z.shape[1] != self.in_channels or z.shape[2] != self.length:
            raise DataError(f"CNN1d expects (N, {self.in_channels}, {self.length}) inputs"
                            f"{' or (N, ' + str(self.length) + ')' if self.in_channels == 1 else ''}, "
                            f"got shape {tuple(x.shape)}")
        return self.head(self.features(z))  # (N, classes)


def cnn1d(length: int, num_classes: int = 10, in_channels: int = 1, **options) -> CNN1d:
    """Build a :class:`CNN1d` (keyword options: channels, kernel_size, batch_norm, keep)."""
    return CNN1d(length, num_classes, in_channels, **options)
