"""VGG-16/19: published parameter counts, the lecture's formula, MACs in closed form, a CPU pass."""

import pytest
import torch

from deepnets.nn.conv import count_weights
from deepnets.zoo import count_macs, vgg16, vgg19

BLOCKS = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}  # Table 1, configurations D and E


def _widths(depth):
    return [w for n, w in zip(BLOCKS[depth], (64, 128, 256, 512, 512)) for _ in range(n)]


@pytest.mark.parametrize("depth,builder,published", [(16, vgg16, 138_357_544),
                                                      (19, vgg19, 143_667_240)])
def test_parameters_and_macs(depth, builder, published, meta_params):
    widths = _widths(depth)
    convs = sum(count_weights(3, k1, l) for k1, l in zip([3] + widths[:-1], widths))
    fcs = (25088 + 1) * 4096 + (4096 + 1) * 4096 + (4096 + 1) * 1000
    assert meta_params(builder) == convs + fcs == published
    # MACs: each conv keeps its block's size (224, 112, 56, 28, 14), 9 K1 L per position
    sizes = [s for n, s in zip(BLOCKS[depth], (224, 112, 56, 28, 14)) for _ in range(n)]
    conv_macs = sum(s * s * 9 * k1 * l for s, k1, l in zip(sizes, [3] + widths[:-1], widths))
    with torch.device("meta"):
        net = builder()
    assert count_macs(net, (3, 224, 224)) == conv_macs + 25088 * 4096 + 4096 * 4096 + 4096 * 1000
    # batch-normalized variant: gamma and beta per conv map
    assert meta_params(builder, batch_norm=True) == published + 2 * sum(widths)


def test_vgg19_macs_match_the_resnet_paper():
    # He et al. (2016), Fig. 3: "VGG-19 (19.6 billion FLOPs)", counted as multiply-adds
    with torch.device("meta"):
        assert abs(count_macs(vgg19(), (3, 224, 224)) / 19.6e9 - 1) < 0.01


@pytest.mark.parametrize("builder", [vgg16, vgg19])
def test_forward_backward_smallest_input(builder, forward_backward):
    forward_backward(builder(10), (3, 32, 32), 10)
