"""ResNets: published counts, the paper's multiply-adds, the CIFAR variant, CPU training passes."""

import pytest
import torch

from deepnets.zoo import (count_macs, resnet18, resnet18_cifar, resnet34, resnet50, resnet101,
                          resnet152)

# depth -> (builder, parameters at 1000 classes, He et al. Table 1 FLOPs (multiply-adds))
PUBLISHED = {
    18: (resnet18, 11_689_512, 1.8e9),
    34: (resnet34, 21_797_672, 3.6e9),
    50: (resnet50, 25_557_032, 3.8e9),
    101: (resnet101, 44_549_160, 7.6e9),
    152: (resnet152, 60_192_808, 11.3e9),
}


@pytest.mark.parametrize("depth", sorted(PUBLISHED))
def test_parameters_and_multiply_adds(depth, meta_params):
    builder, params, flops = PUBLISHED[depth]
    assert meta_params(builder) == params
    with torch.device("meta"):
        macs = count_macs(builder(), (3, 224, 224))
    assert abs(macs / flops - 1) < 0.025  # the paper rounds to one decimal


def test_stride_in_3x3_keeps_parameters_and_costs_more():
    with torch.device("meta"):
        v1, v15 = resnet50(), resnet50(stride_in_3x3=True)
        assert sum(p.numel() for p in v15.parameters()) == 25_557_032
        assert count_macs(v15, (3, 224, 224)) > count_macs(v1, (3, 224, 224))
        assert v15(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


def test_cifar_variant(meta_params):
    # 3x3x3x64 stem instead of 7x7x3x64, a 10-way head instead of a 1000-way one
    expected = 11_689_512 - 7 * 7 * 3 * 64 + 3 * 3 * 3 * 64 - (512 + 1) * 1000 + (512 + 1) * 10
    assert meta_params(resnet18_cifar) == expected == 11_173_962
    with torch.device("meta"):
        net = resnet18_cifar().eval()
        assert net.stages[0](net.stem(torch.zeros(1, 3, 32, 32))).shape == (1, 64, 32, 32)


def test_residual_identity_at_zero_residual():
    # with the last BN's gamma at 0, F(x) = 0 and a block is ReLU(x)
    net = resnet18().eval()
    block = net.stages[0][0]
    torch.nn.init.zeros_(block.residual[-1].weight)
    torch.nn.init.zeros_(block.residual[-1].bias)
    x = torch.randn(2, 64, 8, 8)
    torch.testing.assert_close(block(x), torch.relu(x))


@pytest.mark.parametrize("builder", [resnet18, resnet34, resnet50, resnet101, resnet152])
def test_forward_backward(builder, forward_backward):
    forward_backward(builder(10, 1), (1, 32, 32), 10)


def test_cifar_forward_backward(forward_backward):
    forward_backward(resnet18_cifar(), (3, 16, 16), 10)
