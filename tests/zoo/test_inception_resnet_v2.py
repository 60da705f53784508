"""Inception-ResNet-v2: the published count, the grid sizes 35/17/8, a CPU pass at 75x75."""

import torch

from deepnets.zoo import inception_resnet_v2


def test_parameter_count(meta_params):
    assert meta_params(inception_resnet_v2) == 55_843_464


def test_grid_sizes_and_widths_at_299():
    with torch.device("meta"):
        net = inception_resnet_v2().eval()
        h = net.stem(torch.zeros(1, 3, 299, 299))
        assert h.shape == (1, 320, 35, 35)
        h = net.reduction_a(net.blocks_a(h))
        assert h.shape == (1, 1088, 17, 17)
        h = net.reduction_b(net.blocks_b(h))
        assert h.shape == (1, 2080, 8, 8)
        assert net.blocks_c(h).shape == (1, 2080, 8, 8)
    assert [b.scale for b in net.blocks_a] == [0.17] * 10
    assert [b.scale for b in net.blocks_c] == [0.2] * 9 + [1.0]
    assert not net.blocks_c[-1].activate


def test_scaled_residual_block():
    block = inception_resnet_v2().blocks_b[0].eval()
    x = torch.randn(1, 1088, 5, 5)
    expected = torch.relu(x + 0.10 * block.up(block.branches(x)))
    torch.testing.assert_close(block(x), expected)


def test_forward_backward_smallest_input(forward_backward):
    forward_backward(inception_resnet_v2(5), (3, 75, 75), 5)
