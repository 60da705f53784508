"""ResNet-18/34/50/101/152 (He, Zhang, Ren & Sun 2016) and a CIFAR-size ResNet-18.

Each block learns the residual F(x) = H(x) − x and outputs ReLU(F(x) + x):

    basic (18, 34):          3×3 conv -> BN -> ReLU -> 3×3 conv -> BN
    bottleneck (50-152):     1×1 conv -> BN -> ReLU -> 3×3 conv -> BN -> ReLU -> 1×1 conv (×4) -> BN

Stem conv 7×7/2, 64 -> BN -> ReLU -> max pool 3×3/2, then four stages of 64, 128, 256, 512
base maps; the first block of stages 2-4 halves the size with stride 2 and doubles the maps, its
shortcut a 1×1 convolution with stride 2 + BN (projection, option B of the paper); global average
pool and one linear layer. Blocks per stage (Table 1):

    18: 2 2 2 2   34: 3 4 6 3   50: 3 4 6 3   101: 3 4 23 3   152: 3 8 36 3

Parameters at 1000 classes: 11,689,512 / 21,797,672 / 25,557,032 / 44,549,160 / 60,192,808.

The paper downsamples in a bottleneck's first 1×1 convolution (its 3.8, 7.6, 11.3 billion
multiply-adds); ``stride_in_3x3=True`` moves the stride to the 3×3 convolution (the later
"v1.5" form: same parameters, more multiply-adds, slightly more accurate).

``resnet18_cifar`` is the usual small-image adaptation (not from the paper, whose CIFAR nets
are narrower): a 3×3/1 stem without max pool, so a 32×32 input keeps 32×32 in the first stage;
11,173,962 parameters at 10 classes.

Reference: He, Zhang, Ren & Sun (2016), "Deep residual learning for image recognition", CVPR,
arXiv:1512.03385 (Table 1).
"""

from __future__ import annotations

from torch import Tensor, nn

from ._common import check_sizes, pick

__all__ = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet18_cifar",
           "ResNet", "BasicBlock", "Bottleneck", "RESNET_DEPTHS"]


def _conv_bn(c_in: int, c_out: int, k: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out)]


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with an identity (or 1×1 projection) shortcut."""

    expansion = 1

    def __init__(self, c_in: int, width: int, stride: int = 1, stride_in_3x3: bool = True):
        super().__init__()
        self.residual = nn.Sequential(*_conv_bn(c_in, width, 3, stride), nn.ReLU(inplace=True),
                                      *_conv_bn(width, width, 3))
        self.shortcut = (nn.Sequential(*_conv_bn(c_in, width, 1, stride))
                         if stride != 1 or c_in != width else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.relu(self.residual(x) + self.shortcut(x))  # F(x) + x


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3, 1×1 expand (×4 maps) with an identity or projection shortcut."""

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1, stride_in_3x3: bool = False):
        super().__init__()
        c_out = width * self.expansion
        s1, s3 = (1, stride) if stride_in_3x3 else (stride, 1)
        self.residual = nn.Sequential(
            *_conv_bn(c_in, width, 1, s1), nn.ReLU(inplace=True),
            *_conv_bn(width, width, 3, s3), nn.ReLU(inplace=True),
            *_conv_bn(width, c_out, 1),
        )
        self.shortcut = (nn.Sequential(*_conv_bn(c_in, c_out, 1, stride))
                         if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.relu(self.residual(x) + self.shortcut(x))  # F(x) + x


# depth -> (block, blocks per stage), Table 1
RESNET_DEPTHS = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


class ResNet(nn.Module):
    """A ResNet of Table 1 with the ImageNet stem, or the 3×3 small-image stem (``small_input``)."""

    def __init__(self, depth: int, num_classes: int = 1000, in_channels: int = 3, *,
                 small_input: bool = False, stride_in_3x3: bool = False):
        super().__init__()
        block, counts = pick(RESNET_DEPTHS, depth, "ResNet depth")
        if small_input:  # 32 -> 32
            self.stem = nn.Sequential(*_conv_bn(in_channels, 64, 3), nn.ReLU(inplace=True))
        else:  # 224 -> 112 -> 56
            self.stem = nn.Sequential(*_conv_bn(in_channels, 64, 7, 2), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(3, stride=2, padding=1))
        stages, c = [], 64
        for i, (n, width) in enumerate(zip(counts, (64, 128, 256, 512))):
            blocks = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1  # halve the size, double the maps
                blocks.append(block(c, width, stride, stride_in_3x3))
                c = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # He et al. (2015) initialisation
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.stages(self.stem(x)))  # (N, classes)


def _builder(depth: int):
    def build(num_classes: int = 1000, in_channels: int = 3, *,
              stride_in_3x3: bool = False) -> ResNet:
        check_sizes(num_classes=num_classes, in_channels=in_channels)
        return ResNet(depth, num_classes, in_channels, stride_in_3x3=stride_in_3x3)

    blocks = "-".join(map(str, RESNET_DEPTHS[depth][1]))
    build.__name__ = build.__qualname__ = f"resnet{depth}"
    build.__doc__ = f"""ResNet-{depth} for 224×224 inputs ({blocks} {RESNET_DEPTHS[depth][0].__name__}s).

    Args:
        num_classes: outputs (default 1000).
        in_channels: input planes (default 3).
        stride_in_3x3: downsample in a bottleneck's 3×3 instead of its first 1×1 (default False,
            as the paper; no effect on basic blocks).

    Reference: He et al. (2016), CVPR.
    """
    return build


resnet18 = _builder(18)
resnet34 = _builder(34)
resnet50 = _builder(50)
resnet101 = _builder(101)
resnet152 = _builder(152)


def resnet18_cifar(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """ResNet-18 for 32×32 inputs: a 3×3/1 stem and no max pool (11,173,962 parameters at 10).

    Args:
        num_classes: outputs (default 10).
        in_channels: input planes (default 3).

    Reference: He et al. (2016), CVPR, with the small-image stem popular for CIFAR-10.
    """
    check_sizes(num_classes=num_classes, in_channels=in_channels)
    return ResNet(18, num_classes, in_channels, small_input=True)
