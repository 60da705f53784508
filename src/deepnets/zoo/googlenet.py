"""GoogLeNet, Inception-v1 (Szegedy et al. 2015), with optional auxiliary heads.

Stem: conv 7×7/2, 64 -> max pool 3×3/2 -> conv 1×1, 64 -> conv 3×3, 192 -> max pool 3×3/2;
then Inception modules 3a, 3b, pool, 4a-4e, pool, 5a, 5b, a global average pool, dropout 0.4
and one linear layer (no hidden fully connected layers). An Inception module runs four branches
on the same input and concatenates their maps (Table 1's columns):

    #1×1 | #3×3 reduce -> #3×3 | #5×5 reduce -> #5×5 | 3×3 max pool -> pool proj (1×1)

Two variants (``GOOGLENET_VARIANTS``):

* "bn" (default): every convolution followed by batch normalization (bias-free), and the fourth
  column's "5×5" convolution made 3×3. This is the widely distributed re-implementation whose
  count, 6,624,904 parameters at 1000 classes, is the figure usually quoted for GoogLeNet.
* "paper": Table 1 exactly: convolutions with biases, true 5×5 kernels, local response
  normalization after the first pool and after the 3×3-192 layer; 6,998,552 parameters.

Auxiliary classifiers (``aux_heads=True``; off by default) sit on 4a and 4d: average pool
5×5/3, conv 1×1-128, FC 1024, dropout 0.7, FC classes. In training mode the network then
returns (main, aux_4a, aux_4d); the paper weights the auxiliary losses by 0.3.

Pools round up (ceil mode) so that 224 gives the paper's 112, 56, 28, 14 and 7; a global average
pool replaces the 7×7 one, so inputs from 31×31 up work (79×79 with the auxiliary heads).

Reference: Szegedy et al. (2015), "Going deeper with convolutions", CVPR, arXiv:1409.4842
(Table 1, Section 5); Ioffe & Szegedy (2015) for the batch-normalized form.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..nn.conv import ConvBNReLU
from ._common import check_sizes, pick

__all__ = ["googlenet", "GoogLeNet", "Inception", "GOOGLENET_VARIANTS", "GoogLeNetSpec",
           "INCEPTION_V1_TABLE"]

# Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj) of each module
INCEPTION_V1_TABLE = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}


@dataclass(frozen=True)
class GoogLeNetSpec:
    """Options of one GoogLeNet variant."""

    batch_norm: bool  # conv -> BN -> ReLU (bias-free) instead of conv(bias) -> ReLU
    wide_kernel: int  # kernel of the "#5x5" column: 5 in the paper
    lrn: bool  # local response normalization in the stem


GOOGLENET_VARIANTS = {
    "bn": GoogLeNetSpec(batch_norm=True, wide_kernel=3, lrn=False),
    "paper": GoogLeNetSpec(batch_norm=False, wide_kernel=5, lrn=True),
}


def _conv(spec: GoogLeNetSpec, c_in: int, c_out: int, k: int, stride: int = 1) -> nn.Module:
    """Conv k×k ('same' padding) + ReLU, with batch normalization in the "bn" variant."""
    if spec.batch_norm:
        return ConvBNReLU(c_in, c_out, k, stride, k // 2, eps=1e-3)
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, k // 2), nn.ReLU(inplace=True))


class Inception(nn.Module):
    """One Inception module: four parallel columns concatenated along the channels."""

    def __init__(self, spec: GoogLeNetSpec, c_in: int, n1, n3r, n3, n5r, n5, npool):
        super().__init__()
        self.b1 = _conv(spec, c_in, n1, 1)
        self.b2 = nn.Sequential(_conv(spec, c_in, n3r, 1), _conv(spec, n3r, n3, 3))
        self.b3 = nn.Sequential(_conv(spec, c_in, n5r, 1), _conv(spec, n5r, n5, spec.wide_kernel))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), _conv(spec, c_in, npool, 1))
        self.out_channels = n1 + n3 + n5 + npool

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)  # (N, sum, H, W)


class AuxHead(nn.Module):
    """Auxiliary classifier: avg pool 5×5/3 -> conv 1×1-128 -> FC 1024 -> dropout 0.7 -> FC.

    An adaptive pool to 4×4 follows the paper's pool (the identity on the native 14×14 maps) so
    that inputs from 79×79 up work.
    """

    def __init__(self, spec: GoogLeNetSpec, c_in: int, num_classes: int):
        super().__init__()
        self.pool = nn.Sequential(nn.AvgPool2d(5, stride=3), nn.AdaptiveAvgPool2d(4))
        self.conv = _conv(spec, c_in, 128, 1)
        self.fc = nn.Sequential(nn.Linear(128 * 4 * 4, 1024), nn.ReLU(inplace=True),
                                nn.Dropout(0.7), nn.Linear(1024, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.conv(self.pool(x)).flatten(1))  # (N, 128, 4, 4) -> (N, classes)


class GoogLeNet(nn.Module):
    """GoogLeNet of Table 1; returns logits, or (logits, aux_4a, aux_4d) in training with heads."""

    def __init__(self, spec: GoogLeNetSpec, num_classes: int = 1000, in_channels: int = 3, *,
                 aux_heads: bool = False, dropout: float = 0.4):
        super().__init__()
        lrn = (lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)) if spec.lrn \
            else nn.Identity
        pool = lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True)  # 112 -> 56 -> 28 -> 14 -> 7
        self.stem = nn.Sequential(
            _conv(spec, in_channels, 64, 7, stride=2), pool(), lrn(),  # 224 -> 112 -> 56
            _conv(spec, 64, 64, 1), _conv(spec, 64, 192, 3), lrn(), pool(),  # -> 28
        )

        def modules(names, c):
            out = []
            for name in names:
                out.append(Inception(spec, c, *INCEPTION_V1_TABLE[name]))
                c = out[-1].out_channels
            return out, c

        m3, c = modules(("3a", "3b"), 192)
        m4a, c = modules(("4a",), c)
        m4bcd, c4d = modules(("4b", "4c", "4d"), c)
        m4e, c = modules(("4e",), c4d)
        m5, c = modules(("5a", "5b"), c)
        self.stage3 = nn.Sequential(*m3, pool())  # 28 -> 14
        self.stage4a = nn.Sequential(*m4a)
        self.stage4d = nn.Sequential(*m4bcd)
        self.stage5 = nn.Sequential(*m4e, pool(), *m5)  # 14 -> 7
        self.aux_4a = AuxHead(spec, 512, num_classes) if aux_heads else None
        self.aux_4d = AuxHead(spec, c4d, num_classes) if aux_heads else None
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(c, num_classes))  # (N, 1024) -> (N, classes)

    def forward(self, x: Tensor):
        h4a = self.stage4a(self.stage3(self.stem(x)))
        h4d = self.stage4d(h4a)
        y = self.head(self.stage5(h4d))
        if self.training and self.aux_4a is not None:
            return y, self.aux_4a(h4a), self.aux_4d(h4d)
        return y


def googlenet(num_classes: int = 1000, in_channels: int = 3, *, aux_heads: bool = False,
              variant: str = "bn") -> GoogLeNet:
    """GoogLeNet: "bn" (6,624,904 parameters at 1000 classes) or Table 1's "paper" (6,998,552).

    Args:
        num_classes: outputs (default 1000).
        in_channels: input planes (default 3).
        aux_heads: add the two auxiliary classifiers (default False; not in the counts above).
        variant: a key of GOOGLENET_VARIANTS (default "bn").

    Reference: Szegedy et al. (2015), CVPR.
    """
    check_sizes(num_classes=num_classes, in_channels=in_channels)
    spec = pick(GOOGLENET_VARIANTS, variant, "GoogLeNet variant")
    return GoogLeNet(spec, num_classes, in_channels, aux_heads=aux_heads)
