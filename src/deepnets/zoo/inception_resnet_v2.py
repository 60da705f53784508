"""Inception-ResNet-v2 (Szegedy, Ioffe, Vanhoucke & Alemi 2017): Inception modules as residuals.

Each residual Inception block concatenates its branches, maps them back to the trunk's width
with a linear 1×1 convolution (with bias, no BN), scales the result by a small constant (the
paper's remedy for instability in very wide residual nets) and adds it: x ← ReLU(x + s·F(x)).

The layout is that of the authors' released TF-slim model, which has the 55,843,464
parameters (1000 classes, no auxiliary head) usually quoted; its stem and first block are those
of Inception-v3 rather than the paper's Fig. 3 stem, and its 35×35 blocks are 320 maps wide.
On a 299×299 input (valid = no padding, same = padded to keep the size):

    stem   conv 3×3/2 32 valid -> 149; conv 3×3 32 valid -> 147; conv 3×3 64 same;
           max pool 3×3/2 -> 73; conv 1×1 80; conv 3×3 192 valid -> 71; max pool 3×3/2 -> 35
    5b     Inception: 1×1 96 | 1×1 48, 5×5 64 | 1×1 64, 3×3 96, 3×3 96 | avg pool, 1×1 64 -> 320
    10 ×   block A (35×35, s = 0.17): 1×1 32 | 1×1 32, 3×3 32 | 1×1 32, 3×3 48, 3×3 64 -> 1×1 320
    6a     reduction A: 3×3/2 384 | 1×1 256, 3×3 256, 3×3/2 384 | max pool 3×3/2 -> 1088, 17×17
    20 ×   block B (17×17, s = 0.10): 1×1 192 | 1×1 128, 1×7 160, 7×1 192 -> 1×1 1088
    7a     reduction B: 1×1 256, 3×3/2 384 | 1×1 256, 3×3/2 288 | 1×1 256, 3×3 288, 3×3/2 320
           | max pool 3×3/2 -> 2080, 8×8
    10 ×   block C (8×8, s = 0.20): 1×1 192 | 1×1 192, 1×3 224, 3×1 256 -> 1×1 2080
           (the last without the ReLU, scale 1)
    head   conv 1×1 1536; global average pool; dropout (keep 0.8); linear

Every other convolution is conv (no bias) -> BN (ε = 0.001, learned γ and β) -> ReLU. The
smallest input is 75×75.

Reference: Szegedy, Ioffe, Vanhoucke & Alemi (2017), "Inception-v4, Inception-ResNet and the
impact of residual connections on learning", AAAI, arXiv:1602.07261 (Figs. 16-19 and Section
3.3 for the scaling).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..nn.conv import ConvBNReLU
from ._common import check_sizes

__all__ = ["inception_resnet_v2", "InceptionResNetV2"]


def _cbr(c_in: int, c_out: int, k, stride: int = 1, same: bool = True) -> ConvBNReLU:
    """Conv-BN-ReLU with TF's ε = 0.001; ``same`` pads k//2 on each axis, else none (valid)."""
    kh, kw = (k, k) if isinstance(k, int) else k
    pad = (kh // 2, kw // 2) if same else 0
    return ConvBNReLU(c_in, c_out, (kh, kw), stride, pad, eps=1e-3)


class _Branches(nn.Module):
    """Parallel branches concatenated along the channels."""

    def __init__(self, *branches: nn.Module):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([b(x) for b in self.branches], dim=1)  # (N, Σ maps, H, W)


class ResidualInception(nn.Module):
    """x ← g(x + s · W_up [branches(x)]), W_up a 1×1 convolution with bias and no BN."""

    def __init__(self, branches: _Branches, mixed: int, width: int, scale: float,
                 activate: bool = True):
        super().__init__()
        self.branches = branches
        self.up = nn.Conv2d(mixed, width, 1)  # linear: no BN, no activation
        self.scale, self.activate = scale, activate

    def forward(self, x: Tensor) -> Tensor:
        y = x + self.scale * self.up(self.branches(x))
        return nn.functional.relu(y) if self.activate else y


def block_a(scale: float = 0.17) -> ResidualInception:
    """35×35 block (Fig. 16), 320 maps."""
    return ResidualInception(_Branches(
        _cbr(320, 32, 1),
        nn.Sequential(_cbr(320, 32, 1), _cbr(32, 32, 3)),
        nn.Sequential(_cbr(320, 32, 1), _cbr(32, 48, 3), _cbr(48, 64, 3)),
    ), 32 + 32 + 64, 320, scale)


def block_b(scale: float = 0.10) -> ResidualInception:
    """17×17 block (Fig. 17), 1088 maps."""
    return ResidualInception(_Branches(
        _cbr(1088, 192, 1),
        nn.Sequential(_cbr(1088, 128, 1), _cbr(128, 160, (1, 7)), _cbr(160, 192, (7, 1))),
    ), 192 + 192, 1088, scale)


def block_c(scale: float = 0.20, activate: bool = True) -> ResidualInception:
    """8×8 block (Fig. 19), 2080 maps."""
    return ResidualInception(_Branches(
        _cbr(2080, 192, 1),
        nn.Sequential(_cbr(2080, 192, 1), _cbr(192, 224, (1, 3)), _cbr(224, 256, (3, 1))),
    ), 192 + 256, 2080, scale, activate)


class InceptionResNetV2(nn.Module):
    """Inception-ResNet-v2 as released by its authors (see the module docstring)."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, *, keep: float = 0.8):
        super().__init__()
        self.stem = nn.Sequential(
            _cbr(in_channels, 32, 3, 2, same=False), _cbr(32, 32, 3, same=False),  # 299->149->147
            _cbr(32, 64, 3), nn.MaxPool2d(3, stride=2),  # -> 73
            _cbr(64, 80, 1), _cbr(80, 192, 3, same=False), nn.MaxPool2d(3, stride=2),  # -> 71 -> 35
            _Branches(  # Mixed 5b -> 320 maps
                _cbr(192, 96, 1),
                nn.Sequential(_cbr(192, 48, 1), _cbr(48, 64, 5)),
                nn.Sequential(_cbr(192, 64, 1), _cbr(64, 96, 3), _cbr(96, 96, 3)),
                nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
                              _cbr(192, 64, 1)),
            ),
        )
        self.blocks_a = nn.Sequential(*(block_a() for _ in range(10)))
        self.reduction_a = _Branches(  # 35 -> 17, 320 -> 1088 maps
            _cbr(320, 384, 3, 2, same=False),
            nn.Sequential(_cbr(320, 256, 1), _cbr(256, 256, 3), _cbr(256, 384, 3, 2, same=False)),
            nn.MaxPool2d(3, stride=2),
        )
        self.blocks_b = nn.Sequential(*(block_b() for _ in range(20)))
        self.reduction_b = _Branches(  # 17 -> 8, 1088 -> 2080 maps
            nn.Sequential(_cbr(1088, 256, 1), _cbr(256, 384, 3, 2, same=False)),
            nn.Sequential(_cbr(1088, 256, 1), _cbr(256, 288, 3, 2, same=False)),
            nn.Sequential(_cbr(1088, 256, 1), _cbr(256, 288, 3), _cbr(288, 320, 3, 2, same=False)),
            nn.MaxPool2d(3, stride=2),
        )
        self.blocks_c = nn.Sequential(*(block_c() for _ in range(9)),
                                      block_c(scale=1.0, activate=False))
        self.head = nn.Sequential(_cbr(2080, 1536, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Dropout(1 - keep), nn.Linear(1536, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        h = self.blocks_a(self.stem(x))  # (N, 320, 35, 35)
        h = self.blocks_b(self.reduction_a(h))  # (N, 1088, 17, 17)
        h = self.blocks_c(self.reduction_b(h))  # (N, 2080, 8, 8)
        return self.head(h)  # (N, classes)


def inception_resnet_v2(num_classes: int = 1000, in_channels: int = 3) -> InceptionResNetV2:
    """Inception-ResNet-v2 for 299×299 inputs (55,843,464 parameters at 1000 classes).

    Args:
        num_classes: outputs (default 1000).
        in_channels: input planes (default 3).

    Reference: Szegedy et al. (2017), AAAI, arXiv:1602.07261.
    """
    check_sizes(num_classes=num_classes, in_channels=in_channels)
    return InceptionResNetV2(num_classes, in_channels)
