"""AlexNet (Krizhevsky, Sutskever & Hinton 2012) and its one-column form (Krizhevsky 2014).

Five convolution layers, three max pools (3×3, stride 2) and three full connections:

    variant      conv filters (F-L)                                   input  parameters
    one_column   11-64/4, 5-192, 3-384, 3-256, 3-256                    224   61,100,840
    original     11-96/4, 5-256 (2 groups), 3-384, 3-384 (2), 3-256 (2)  227   60,965,224

"original" is the two-GPU network of the 2012 paper: layers 2, 4 and 5 see only the maps on
their own GPU (grouped convolutions), local response normalization follows the ReLUs of
layers 1 and 2, and the first layer gives (227 − 11)/4 + 1 = 55 as the lecture computes.
"one_column" (the default, and the 61,100,840-parameter figure usually quoted) is the single
tower of Krizhevsky's "One weird trick" (2014) without response normalization; its first layer
pads 2, so a 224 input gives ⌊(224 − 11 + 4)/4⌋ + 1 = 55.

An adaptive average pool to 6×6 sits before the classifier: the identity at the native size,
it lets the network take any input from 63×63 (one_column) or 67×67 (original) up.

Reference: Krizhevsky, Sutskever & Hinton (2012), "ImageNet classification with deep
convolutional neural networks", NeurIPS; Krizhevsky (2014), "One weird trick for parallelizing
convolutional neural networks", arXiv:1404.5997.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ._common import check_sizes, pick

__all__ = ["alexnet", "AlexNet", "ALEXNET_VARIANTS", "AlexNetSpec"]


@dataclass(frozen=True)
class AlexNetSpec:
    """Layer widths and options of one AlexNet variant."""

    widths: tuple[int, int, int, int, int]  # filters L of conv1..conv5
    groups: tuple[int, int, int, int, int]  # 2 where a layer only sees its own GPU's maps
    first_padding: int  # P of conv1
    lrn: bool  # local response normalization after conv1 and conv2
    input_size: int  # the native input


ALEXNET_VARIANTS = {
    "one_column": AlexNetSpec((64, 192, 384, 256, 256), (1, 1, 1, 1, 1), 2, False, 224),
    "original": AlexNetSpec((96, 256, 384, 384, 256), (1, 2, 1, 2, 2), 0, True, 227),
}


class AlexNet(nn.Module):
    """AlexNet: 5 conv + 3 max-pool feature layers, then dropout-FC 4096-FC 4096-FC classes."""

    def __init__(self, spec: AlexNetSpec, num_classes: int = 1000, in_channels: int = 3,
                 dropout: float = 0.5):
        super().__init__()
        w, g = spec.widths, spec.groups
        kernels, pads = (11, 5, 3, 3, 3), (spec.first_padding, 2, 1, 1, 1)
        layers, c = [], in_channels
        for i in range(5):
            layers += [nn.Conv2d(c, w[i], kernels[i], stride=4 if i == 0 else 1, padding=pads[i],
                                 groups=g[i]), nn.ReLU(inplace=True)]
            if spec.lrn and i < 2:  # k = 2, n = 5, alpha = 1e-4, beta = 0.75 (Section 3.3)
                layers.append(nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0))
            if i in (0, 1, 4):
                layers.append(nn.MaxPool2d(3, stride=2))  # overlapping pooling, z = 3, s = 2
            c = w[i]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(6)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(c * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        h = self.avgpool(self.features(x)).flatten(1)  # (N, 256, 6, 6) -> (N, 9216)
        return self.classifier(h)  # (N, classes)


def alexnet(num_classes: int = 1000, in_channels: int = 3, *,
            variant: str = "one_column") -> AlexNet:
    """AlexNet, "one_column" (61,100,840 parameters at 1000 classes) or the 2012 "original".

    Args:
        num_classes: outputs of the last layer (default 1000).
        in_channels: input planes (default 3).
        variant: a key of ALEXNET_VARIANTS (default "one_column").

    Reference: Krizhevsky et al. (2012), NeurIPS; Krizhevsky (2014), arXiv:1404.5997.
    """
    check_sizes(num_classes=num_classes, in_channels=in_channels)
    return AlexNet(pick(ALEXNET_VARIANTS, variant, "AlexNet variant"), num_classes, in_channels)
