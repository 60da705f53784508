"""Inception-v4 (Szegedy, Ioffe, Vanhoucke & Alemi 2017): a pure Inception network, no residuals.

Built from the paper's Figs. 3-9 (valid = no padding, same = padded to keep the size; the
figures' 1×7 / 7×1 order is kept, it does not change the count). On a 299×299 input:

    stem (Fig. 3)  conv 3×3/2 32 valid -> 149; conv 3×3 32 valid -> 147; conv 3×3 64 same;
                   max pool 3×3/2 | conv 3×3/2 96 (both valid) -> 73, 160 maps;
                   1×1 64, 3×3 96 valid | 1×1 64, 7×1 64, 1×7 64, 3×3 96 valid -> 71, 192 maps;
                   conv 3×3/2 192 | max pool 3×3/2 (both valid) -> 35, 384 maps
    4 × A (Fig. 4)        avg pool, 1×1 96 | 1×1 96 | 1×1 64, 3×3 96 | 1×1 64, 3×3 96, 3×3 96 -> 384
    reduction A (Fig. 7)  max pool 3×3/2 | 3×3/2 n | 1×1 k, 3×3 l, 3×3/2 m, with
                          (k, l, m, n) = (192, 224, 256, 384) -> 17×17, 384 + 384 + 256 = 1024
    7 × B (Fig. 5)        avg pool, 1×1 128 | 1×1 384 | 1×1 192, 1×7 224, 7×1 256
                          | 1×1 192, 1×7 192, 7×1 224, 1×7 224, 7×1 256 -> 1024
    reduction B (Fig. 8)  max pool 3×3/2 | 1×1 192, 3×3/2 192 | 1×1 256, 1×7 256, 7×1 320,
                          3×3/2 320 -> 8×8, 1024 + 192 + 320 = 1536
    3 × C (Fig. 6)        avg pool, 1×1 256 | 1×1 256 | 1×1 384, then 1×3 256 and 3×1 256
                          side by side | 1×1 384, 1×3 448, 3×1 512, then 3×1 256 and 1×3 256 -> 1536
    head (Fig. 9)         global average pool; dropout (keep 0.8); linear (softmax in the loss)

The average pools in the blocks are 3×3, stride 1, same. Every convolution is conv (no bias) ->
BN (ε = 0.001, learned γ and β) -> ReLU, as in :mod:`.inception_resnet_v2`; no auxiliary head.
At 1000 classes this gives 42,679,816 parameters, the count osmr/imgclsmob's PyTorch InceptionV4
asserts and timm's inception_v4 card rounds to 42.7 M (the paper gives no exact count); of them 31,584
are BN's γ, which TF-slim's BN does not learn.
The smallest input is 75×75 (the 8×8 grid is then 1×1).

Reference: Szegedy, Ioffe, Vanhoucke & Alemi (2017), "Inception-v4, Inception-ResNet and the
impact of residual connections on learning", AAAI, arXiv:1602.07261 (Figs. 3-9).
"""

from __future__ import annotations

from torch import Tensor, nn

from ._common import check_sizes
from .inception_resnet_v2 import _Branches, _cbr

__all__ = ["inception_v4", "InceptionV4"]


def _pool_proj(c_in: int, c_out: int) -> nn.Sequential:
    """The blocks' pooling branch: 3×3 average pool (stride 1, same) then a 1×1 conv."""
    return nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
                         _cbr(c_in, c_out, 1))


class _Split(nn.Module):
    """Inception-C's fork: one trunk whose output feeds two convolutions, concatenated."""

    def __init__(self, trunk: nn.Module, *heads: nn.Module):
        super().__init__()
        self.trunk, self.heads = trunk, _Branches(*heads)

    def forward(self, x: Tensor) -> Tensor:
        return self.heads(self.trunk(x))


def stem(in_channels: int = 3) -> nn.Sequential:
    """Fig. 3: 299×299×3 -> 35×35×384."""
    return nn.Sequential(
        _cbr(in_channels, 32, 3, 2, same=False), _cbr(32, 32, 3, same=False), _cbr(32, 64, 3),
        _Branches(nn.MaxPool2d(3, stride=2), _cbr(64, 96, 3, 2, same=False)),  # -> 73, 160
        _Branches(  # -> 71, 192
            nn.Sequential(_cbr(160, 64, 1), _cbr(64, 96, 3, same=False)),
            nn.Sequential(_cbr(160, 64, 1), _cbr(64, 64, (7, 1)), _cbr(64, 64, (1, 7)),
                          _cbr(64, 96, 3, same=False)),
        ),
        _Branches(_cbr(192, 192, 3, 2, same=False), nn.MaxPool2d(3, stride=2)),  # -> 35, 384
    )


def block_a() -> _Branches:
    """Fig. 4: the 35×35 block, 384 maps in and out."""
    return _Branches(
        _pool_proj(384, 96),
        _cbr(384, 96, 1),
        nn.Sequential(_cbr(384, 64, 1), _cbr(64, 96, 3)),
        nn.Sequential(_cbr(384, 64, 1), _cbr(64, 96, 3), _cbr(96, 96, 3)),
    )


def reduction_a(k: int = 192, l: int = 224, m: int = 256, n: int = 384) -> _Branches:  # noqa: E741
    """Fig. 7: 35×35×384 -> 17×17×(384 + n + m); Inception-v4 uses (k, l, m, n) = (192, 224, 256, 384)."""
    return _Branches(
        nn.MaxPool2d(3, stride=2),
        _cbr(384, n, 3, 2, same=False),
        nn.Sequential(_cbr(384, k, 1), _cbr(k, l, 3), _cbr(l, m, 3, 2, same=False)),
    )


def block_b() -> _Branches:
    """Fig. 5: the 17×17 block, 1024 maps in and out."""
    return _Branches(
        _pool_proj(1024, 128),
        _cbr(1024, 384, 1),
        nn.Sequential(_cbr(1024, 192, 1), _cbr(192, 224, (1, 7)), _cbr(224, 256, (7, 1))),
        nn.Sequential(_cbr(1024, 192, 1), _cbr(192, 192, (1, 7)), _cbr(192, 224, (7, 1)),
                      _cbr(224, 224, (1, 7)), _cbr(224, 256, (7, 1))),
    )


def reduction_b() -> _Branches:
    """Fig. 8: 17×17×1024 -> 8×8×1536."""
    return _Branches(
        nn.MaxPool2d(3, stride=2),
        nn.Sequential(_cbr(1024, 192, 1), _cbr(192, 192, 3, 2, same=False)),
        nn.Sequential(_cbr(1024, 256, 1), _cbr(256, 256, (1, 7)), _cbr(256, 320, (7, 1)),
                      _cbr(320, 320, 3, 2, same=False)),
    )


def block_c() -> _Branches:
    """Fig. 6: the 8×8 block, 1536 maps in and out."""
    return _Branches(
        _pool_proj(1536, 256),
        _cbr(1536, 256, 1),
        _Split(_cbr(1536, 384, 1), _cbr(384, 256, (1, 3)), _cbr(384, 256, (3, 1))),
        _Split(nn.Sequential(_cbr(1536, 384, 1), _cbr(384, 448, (1, 3)), _cbr(448, 512, (3, 1))),
               _cbr(512, 256, (3, 1)), _cbr(512, 256, (1, 3))),
    )


class InceptionV4(nn.Module):
    """Inception-v4 as in the paper's Fig. 9 (see the module docstring for each stage)."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, *, keep: float = 0.8):
        super().__init__()
        self.stem = stem(in_channels)
        self.blocks_a = nn.Sequential(*(block_a() for _ in range(4)))
        self.reduction_a = reduction_a()
        self.blocks_b = nn.Sequential(*(block_b() for _ in range(7)))
        self.reduction_b = reduction_b()
        self.blocks_c = nn.Sequential(*(block_c() for _ in range(3)))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(1 - keep),
                                  nn.Linear(1536, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        h = self.blocks_a(self.stem(x))  # (N, 384, 35, 35)
        h = self.blocks_b(self.reduction_a(h))  # (N, 1024, 17, 17)
        h = self.blocks_c(self.reduction_b(h))  # (N, 1536, 8, 8)
        return self.head(h)  # (N, classes): logits; the softmax is in the loss


def inception_v4(num_classes: int = 1000, in_channels: int = 3) -> InceptionV4:
    """Inception-v4 for 299×299 inputs (42,679,816 parameters at 1000 classes).

    Args:
        num_classes: outputs (default 1000).
        in_channels: input planes (default 3).

    Reference: Szegedy et al. (2017), AAAI, arXiv:1602.07261 (Figs. 3-9).
    """
    check_sizes(num_classes=num_classes, in_channels=in_channels)
    return InceptionV4(num_classes, in_channels)
