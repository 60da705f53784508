"""LeNet-5 as published by LeCun, Bottou, Bengio & Haffner (1998), and a modern variant.

The published network on a 32×32 input (every layer but the output squashes its weighted sum
a with f(a) = A tanh(S a), A = 1.7159, S = 2/3):

    layer  maps  what                                                       trainable
    C1     6     5×5 convolution -> 28×28                                   (25+1)·6  =    156
    S2     6     2×2 sums, one coefficient and one bias per map -> 14×14    2·6       =     12
    C3     16    5×5 convolution over the partial connection table -> 10×10 60·25+16  =  1,516
    S4     16    2×2 sums, coefficient and bias per map -> 5×5              2·16      =     32
    C5     120   5×5 convolution over all 16 maps -> 1×1                    (400+1)·120 = 48,120
    F6     84    full connection                                            (120+1)·84 = 10,164
    output 10    Euclidean RBF y_i = Σ_j (x_j − w_ij)², w fixed at ±1       0
                                                                             total      60,000

The RBF parameters are not trained: each class has a ±1 code of 84 = 7×12 values, a stylised
bitmap of its character in the paper. We draw our own 7×12 digits for 10 classes (the paper's
bitmaps were not published as numbers) and, as the paper allows, a random ±1 code otherwise.
The network returns −y, so the largest output is the predicted class and cross-entropy on it is
the paper's MAP criterion (eq. 9) without its constant e^{−j} term.

The modern variant keeps the layer sizes but uses ReLU, 2×2 max pooling, a full C3 and a linear
output layer (61,706 parameters at 10 classes), the form most courses teach today.

>>> sum(p.numel() for p in lenet5().parameters() if p.requires_grad)
60000

Reference: LeCun, Bottou, Bengio & Haffner (1998), "Gradient-based learning applied to document
recognition", Proc. IEEE 86(11):2278-2324 (Section II.B, Table I, Appendix A).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError, DataError
from ._common import check_sizes

__all__ = ["lenet5", "LeNet5", "ScaledTanh", "Subsampling", "PartialConv2d", "EuclideanRBF",
           "C3_TABLE", "digit_codes"]

# Table I: the S2 maps (0..5) each C3 map (0..15) reads. Maps 0-5 read three contiguous maps,
# 6-11 four contiguous ones, 12-14 four non-contiguous ones and 15 all six: 60 connections.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    *(tuple((j + i) % 6 for i in range(3)) for j in range(6)),
    *(tuple((j + i) % 6 for i in range(4)) for j in range(6)),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

# Our 7-wide, 12-high drawings of the digits ('#' = +1, ' ' = -1) for the RBF codes.
_DIGITS = (
    (" ##### ", "##   ##", "#     #", "#     #", "#     #", "#     #",
     "#     #", "#     #", "#     #", "##   ##", " ##### ", "       "),
    ("   #   ", "  ##   ", " # #   ", "   #   ", "   #   ", "   #   ",
     "   #   ", "   #   ", "   #   ", "   #   ", " ##### ", "       "),
    (" ##### ", "#     #", "      #", "      #", "     # ", "    #  ",
     "   #   ", "  #    ", " #     ", "#      ", "#######", "       "),
    (" ##### ", "#     #", "      #", "      #", "      #", "  #### ",
     "      #", "      #", "      #", "#     #", " ##### ", "       "),
    ("     # ", "    ## ", "   # # ", "  #  # ", " #   # ", "#    # ",
     "#######", "     # ", "     # ", "     # ", "     # ", "       "),
    ("#######", "#      ", "#      ", "#      ", "###### ", "      #",
     "      #", "      #", "      #", "#     #", " ##### ", "       "),
    ("  #### ", " #     ", "#      ", "#      ", "###### ", "#     #",
     "#     #", "#     #", "#     #", "#     #", " ##### ", "       "),
    ("#######", "      #", "     # ", "     # ", "    #  ", "    #  ",
     "   #   ", "   #   ", "  #    ", "  #    ", "  #    ", "       "),
    (" ##### ", "#     #", "#     #", "#     #", " ##### ", "#     #",
     "#     #", "#     #", "#     #", "#     #", " ##### ", "       "),
    (" ##### ", "#     #", "#     #", "#     #", "#     #", " ######",
     "      #", "      #", "      #", "     # ", " ####  ", "       "),
)


def digit_codes(num_classes: int = 10, *, seed: int = 0) -> Tensor:
    """The fixed RBF centres: (num_classes, 84) of ±1, our digit bitmaps for 10 classes.

    Args:
        num_classes: number of output classes; for 10 the 7×12 digit drawings, else ±1 drawn with
            equal probability from a torch.Generator seeded with ``seed``.
        seed: seed of the random code (default 0).
    """
    if num_classes == 10:
        rows = ["".join(d) for d in _DIGITS]  # 10 strings of 84 characters
        return torch.tensor([[1.0 if c == "#" else -1.0 for c in r] for r in rows])  # (10, 84)
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (num_classes, 84), generator=g).float() * 2 - 1  # (classes, 84)


class ScaledTanh(nn.Module):
    """The paper's squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3 (Appendix A)."""

    A, S = 1.7159, 2.0 / 3.0

    def forward(self, a: Tensor) -> Tensor:
        return self.A * torch.tanh(self.S * a)


class Subsampling(nn.Module):
    """S2/S4: each map's 2×2 sums times one trainable coefficient, plus one trainable bias.

    y_c = w_c · Σ_{2×2} x_c + b_c (the squashing follows as a separate module): 2 parameters per
    map, as the lecture's "2m unique weights" for m pooling maps.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), 0.25))  # starts as the 2x2 average
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        s = nn.functional.avg_pool2d(x, 2) * 4  # (N, C, H/2, W/2) sums of 2x2 blocks
        return s * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class PartialConv2d(nn.Module):
    """A convolution whose output map j reads only the input maps table[j] (C3 of LeNet-5).

    Only the connected kernels are parameters: ``weight`` is (connections, k, k), scattered into a
    full (out, in, k, k) kernel of zeros at each forward, so the parameter count is exactly
    Σ_j |table[j]|·k² + out.

    Args:
        in_channels: number of input maps.
        table: for each output map, the tuple of input maps it reads.
        kernel_size: k.
    """

    def __init__(self, in_channels: int, table, kernel_size: int):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, len(table), kernel_size
        index = [j * in_channels + i for j, maps in enumerate(table) for i in maps]
        if any(not 0 <= i < in_channels for maps in table for i in maps):
            raise ConfigError(f"connection table names maps outside 0..{in_channels - 1}: {table}")
        self.register_buffer("index", torch.tensor(index, dtype=torch.long), persistent=False)
        # the paper's initialisation: uniform in ±2.4/F_i, F_i the fan-in of the unit fed
        bound = torch.tensor([2.4 / (len(m) * kernel_size ** 2) for m in table for _ in m])
        self.weight = nn.Parameter((torch.rand(len(index), kernel_size, kernel_size) * 2 - 1)
                                   * bound.view(-1, 1, 1))  # (connections, k, k)
        self.bias = nn.Parameter(torch.zeros(len(table)))

    def full_weight(self) -> Tensor:
        """The dense (out, in, k, k) kernel with zeros where the table has no connection."""
        k, out, inp = self.kernel_size, self.out_channels, self.in_channels
        dense = self.weight.new_zeros(out * inp, k, k).index_copy(0, self.index, self.weight)
        return dense.view(out, inp, k, k)

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.conv2d(x, self.full_weight(), self.bias)

    def macs(self, inputs, output: Tensor) -> int:
        """Multiply-accumulates: output positions × connected kernels × k²."""
        positions = output.shape[0] * output.shape[2] * output.shape[3]
        return positions * self.weight.shape[0] * self.kernel_size ** 2

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, " \
               f"connections={self.weight.shape[0]}"


class EuclideanRBF(nn.Module):
    """Output layer of Euclidean radial basis units y_i = Σ_j (x_j − w_ij)² with fixed w.

    Args:
        centers: (classes, features) parameter vectors, kept as a buffer (not trained).
    """

    def __init__(self, centers: Tensor):
        super().__init__()
        self.register_buffer("centers", centers)

    def forward(self, x: Tensor) -> Tensor:
        diff = x.unsqueeze(1) - self.centers  # (N, 1, F) - (C, F) -> (N, C, F)
        return diff.square().sum(dim=-1)  # (N, C) penalties

    def macs(self, inputs, output: Tensor) -> int:
        return output.numel() * self.centers.shape[1]


class LeNet5(nn.Module):
    """LeNet-5 of LeCun et al. (1998) with its subsampling, partial C3 and RBF output.

    forward(x) takes (N, in_channels, 32, 32) and returns −y, the negated RBF penalties (N, classes).

    Args:
        num_classes: output units (default 10).
        in_channels: input planes (default 1).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5), ScaledTanh(),  # C1: 32 -> 28
            Subsampling(6), ScaledTanh(),  # S2: 28 -> 14
            PartialConv2d(6, C3_TABLE, 5), ScaledTanh(),  # C3: 14 -> 10
            Subsampling(16), ScaledTanh(),  # S4: 10 -> 5
            nn.Conv2d(16, 120, 5), ScaledTanh(),  # C5: 5 -> 1
        )
        self.f6 = nn.Sequential(nn.Linear(120, 84), ScaledTanh())
        self.output = EuclideanRBF(digit_codes(num_classes))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or tuple(x.shape[2:]) != (32, 32):
            raise DataError(f"LeNet-5 expects (N, C, 32, 32) inputs (pad 28x28 digits by 2), "
                            f"got shape {tuple(x.shape)}")
        h = self.features(x).flatten(1)  # (N, 120, 1, 1) -> (N, 120)
        return -self.output(self.f6(h))  # (N, classes)


def _modern(num_classes: int, in_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5), nn.ReLU(), nn.MaxPool2d(2),  # 32 -> 28 -> 14
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 10 -> 5
        nn.Flatten(),  # (N, 16*5*5)
        nn.Linear(400, 120), nn.ReLU(),  # C5 on a 5x5 map is a full connection
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes),  # logits for softmax
    )


def lenet5(num_classes: int = 10, in_channels: int = 1, *, modern: bool = False) -> nn.Module:
    """LeNet-5 on 32×32 inputs: as published (60,000 parameters at 10 classes) or modern.

    Args:
        num_classes: output classes (default 10).
        in_channels: input planes (default 1, grey digits).
        modern: ReLU, max pooling, full C3 and a linear softmax output instead of the paper's
            scaled tanh, trainable subsampling, partial C3 and fixed RBF output (default False).

    Reference: LeCun et al. (1998), Proc. IEEE 86(11).
    """
    check_sizes(num_classes=num_classes, in_channels=in_channels)
    return _modern(num_classes, in_channels) if modern else LeNet5(num_classes, in_channels)
