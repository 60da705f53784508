"""ZFNet: the paper's map sizes 110, 55, 26, 13, 6, parameter counts, a CPU training pass."""

import torch

from deepnets.nn.conv import count_weights
from deepnets.zoo import zfnet


def test_map_sizes_of_figure_3():
    with torch.device("meta"):
        net = zfnet().eval()
        sizes, h = [], torch.zeros(1, 3, 224, 224)
        for layer in net.features:
            h = layer(h)
            if isinstance(layer, (torch.nn.Conv2d, torch.nn.MaxPool2d)):
                sizes.append(h.shape[-1])
    assert sizes == [110, 55, 26, 13, 13, 13, 13, 6]


def test_parameter_counts(meta_params):
    def count(c3, c4, c5):
        convs = (count_weights(7, 3, 96) + count_weights(5, 96, 256) + count_weights(3, 256, c3)
                 + count_weights(3, c3, c4) + count_weights(3, c4, c5))
        return convs + (c5 * 36 + 1) * 4096 + (4096 + 1) * 4096 + (4096 + 1) * 1000

    assert meta_params(zfnet) == count(384, 384, 256) == 62_357_608
    assert meta_params(zfnet, wide=True) == count(512, 1024, 512)


def test_forward_backward_smallest_input(forward_backward):
    forward_backward(zfnet(6, 1), (1, 63, 63), 6)
