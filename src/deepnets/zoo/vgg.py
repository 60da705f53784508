"""VGG-16 and VGG-19 (Simonyan & Zisserman 2015), configurations D and E.

Stacks of 3×3 convolutions (stride 1, padding 1) and 2×2 max pools (stride 2), then
FC 4096 - FC 4096 - FC classes with dropout 0.5 before each hidden FC layer. VGG-19 in the
lecture's words: 2 conv 3-64 -> pool -> 2 conv 3-128 -> pool -> 4 conv 3-256 -> pool ->
4 conv 3-512 -> pool -> 4 conv 3-512 -> pool -> 2 FC 4096 -> FC 1000 -> softmax. Two 3×3
layers see a 5×5 field and three a 7×7 one with fewer weights (3·3²·C² < 7²·C²).

Parameters at 1000 classes, 3 channels: VGG-16 138,357,544; VGG-19 143,667,240. With
``batch_norm=True`` each convolution is followed by batch normalization (a later variant,
not in the paper). An adaptive average pool to 7×7 before the classifier (the identity at the
native 224×224) lets inputs down to 32×32 through.

Reference: Simonyan & Zisserman (2015), "Very deep convolutional networks for large-scale image
recognition", ICLR, arXiv:1409.1556 (Table 1, configurations D and E).
"""

from __future__ import annotations

from torch import Tensor, nn

from ._common import check_sizes, pick

__all__ = ["vgg16", "vgg19", "VGG", "VGG_CONFIGS"]

# Table 1: convolutions per block, each block ending in a 2x2 max pool; widths 64..512
VGG_CONFIGS = {
    "D": (2, 2, 3, 3, 3),  # VGG-16
    "E": (2, 2, 4, 4, 4),  # VGG-19
}
_WIDTHS = (64, 128, 256, 512, 512)


class VGG(nn.Module):
    """A VGG network of Table 1: the convolution blocks of ``config``, then three FC layers."""

    def __init__(self, config: str = "D", num_classes: int = 1000, in_channels: int = 3, *,
                 batch_norm: bool = False, dropout: float = 0.5):
        super().__init__()
        layers, c = [], in_channels
        for n, width in zip(pick(VGG_CONFIGS, config, "VGG configuration"), _WIDTHS):
            for _ in range(n):
                layers.append(nn.Conv2d(c, width, 3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(width))
                layers.append(nn.ReLU(inplace=True))
                c = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )
        for m in self.modules():  # He et al. (2015) initialisation for the ReLU stacks
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        h = self.avgpool(self.features(x)).flatten(1)  # (N, 512, 7, 7) -> (N, 25088)
        return self.classifier(h)  # (N, classes)


def vgg16(num_classes: int = 1000, in_channels: int = 3, *, batch_norm: bool = False) -> VGG:
    """VGG-16, configuration D: 13 conv + 3 FC layers (138,357,544 parameters at 1000 classes).

    Args:
        num_classes: outputs (default 1000).
        in_channels: input planes (default 3).
        batch_norm: batch normalization after each convolution (default False, as the paper).

    Reference: Simonyan & Zisserman (2015), ICLR.
    """
    check_sizes(num_classes=num_classes, in_channels=in_channels)
    return VGG("D", num_classes, in_channels, batch_norm=batch_norm)


def vgg19(num_classes: int = 1000, in_channels: int = 3, *, batch_norm: bool = False) -> VGG:
    """VGG-19, configuration E: 16 conv + 3 FC layers (143,667,240 parameters at 1000 classes).

    Args:
        num_classes: outputs (default 1000).
        in_channels: input planes (default 3).
        batch_norm: batch normalization after each convolution (default False, as the paper).

    Reference: Simonyan & Zisserman (2015), ICLR.
    """
    check_sizes(num_classes=num_classes, in_channels=in_channels)
    return VGG("E", num_classes, in_channels, batch_norm=batch_norm)
