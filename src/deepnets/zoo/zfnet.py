"""ZFNet (Zeiler & Fergus 2014): AlexNet re-tuned after looking at what its layers see.

Fig. 3 of the paper, on a 224×224 input:

    conv 7×7, 96, stride 2 -> 110²; max pool 3×3/2 -> 55²; contrast normalization
    conv 5×5, 256, stride 2 -> 26²; max pool 3×3/2 -> 13²; contrast normalization
    conv 3×3, 384 -> 13²; conv 3×3, 384 -> 13²; conv 3×3, 256 -> 13²; max pool 3×3/2 -> 6²
    FC 4096, FC 4096, FC classes (dropout 0.5 before the two hidden FC layers)

The 7×7/2 first layer replaces AlexNet's 11×11/4. The lecture's ZFNet also widens layers 3-5 to
512, 1024 and 512 maps, the bigger model of the paper's Table 3 (``wide=True``). The paper's
sizes 110 and 55 imply a padding of 1 on the first layer and pools that round up (ceil mode).

An adaptive average pool to 6×6 before the classifier (the identity at 224) lets smaller
inputs through.

Reference: Zeiler & Fergus (2014), "Visualizing and understanding convolutional networks",
ECCV, arXiv:1311.2901.
"""

from __future__ import annotations

from torch import Tensor, nn

from ._common import check_sizes

__all__ = ["zfnet", "ZFNet"]


class ZFNet(nn.Module):
    """ZFNet of Fig. 3 (widths 384, 384, 256 for layers 3-5) or Table 3's wider model."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, *, wide: bool = False,
                 dropout: float = 0.5):
        super().__init__()
        c3, c4, c5 = (512, 1024, 512) if wide else (384, 384, 256)

        def norm():  # "contrast normalized across feature maps", as AlexNet's
            return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)

        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, 7, stride=2, padding=1), nn.ReLU(inplace=True),  # 224 -> 110
            nn.MaxPool2d(3, stride=2, ceil_mode=True), norm(),  # -> 55
            nn.Conv2d(96, 256, 5, stride=2), nn.ReLU(inplace=True),  # -> 26
            nn.MaxPool2d(3, stride=2, ceil_mode=True), norm(),  # -> 13
            nn.Conv2d(256, c3, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, 3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2),  # 13 -> 6
        )
        self.avgpool = nn.AdaptiveAvgPool2d(6)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(c5 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        h = self.avgpool(self.features(x)).flatten(1)  # (N, c5, 6, 6) -> (N, 36 c5)
        return self.classifier(h)  # (N, classes)


def zfnet(num_classes: int = 1000, in_channels: int = 3, *, wide: bool = False) -> ZFNet:
    """ZFNet (62,357,608 parameters at 1000 classes; ``wide=True`` for 512-1024-512 maps).

    Args:
        num_classes: outputs (default 1000).
        in_channels: input planes (default 3).
        wide: layers 3-5 with 512, 1024, 512 maps as in the lecture and Table 3 (default False).

    Reference: Zeiler & Fergus (2014), ECCV.
    """
    check_sizes(num_classes=num_classes, in_channels=in_channels)
    return ZFNet(num_classes, in_channels, wide=wide)
