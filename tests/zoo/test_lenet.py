"""LeNet-5 against LeCun et al. (1998): per-layer parameters, Table I, connections, gradients."""

import pytest
import torch

from deepnets.errors import DataError
from deepnets.nn.conv import count_connections, count_weights
from deepnets.zoo import count_macs, count_parameters, lenet5
from deepnets.zoo.lenet import C3_TABLE, EuclideanRBF, PartialConv2d, Subsampling, digit_codes

# Table I of the paper as printed: row = S2 map, column = C3 map, X = connected
TABLE_I = (
    "X   XXX  XXXX XX",
    "XX   XXX  XXXX X",
    "XXX   XXX  X XXX",
    " XXX  XXXX  X XX",
    "  XXX  XXXX XX X",
    "   XXX  XXXX XXX",
)


def test_c3_table_is_table_one():
    for j, maps in enumerate(C3_TABLE):
        assert set(maps) == {i for i in range(6) if TABLE_I[i][j] == "X"}
    assert sum(len(m) for m in C3_TABLE) == 60


def test_parameters_per_layer_as_published():
    net = lenet5()
    f = net.features
    per_layer = [count_parameters(m) for m in (f[0], f[2], f[4], f[6], f[8], net.f6, net.output)]
    assert per_layer == [156, 12, 1_516, 32, 48_120, 10_164, 0]
    assert count_parameters(net) == 60_000
    # the lecture's (F*F*K1 + 1)*L for the full convolutions
    assert count_weights(5, 1, 6) == 156 and count_weights(5, 16, 120) == 48_120
    assert net.output.centers.shape == (10, 84) and set(net.output.centers.unique().tolist()) == {-1.0, 1.0}


def test_connections_as_published():
    # paper: C1 122,304, C3 151,600, C5 48,120, F6 10,164 connections (weights + biases)
    net = lenet5()
    f = net.features
    assert count_macs(f[0], (1, 32, 32)) + 6 * 28 * 28 == 122_304 == count_connections(32, 5, 1, 6)
    assert count_macs(f[4], (6, 14, 14)) + 16 * 10 * 10 == 151_600
    assert count_macs(f[8], (16, 5, 5)) + 120 == 48_120
    assert count_macs(net.f6, (120,)) + 84 == 10_164


def test_c3_output_map_reads_only_its_table_row():
    conv = PartialConv2d(6, C3_TABLE, 5).double()
    x = torch.randn(1, 6, 14, 14, dtype=torch.float64, requires_grad=True)
    y = conv(x)
    assert y.shape == (1, 16, 10, 10)
    for j, maps in enumerate(C3_TABLE):
        (g,) = torch.autograd.grad(y[:, j].sum(), x, retain_graph=True)
        touched = {i for i in range(6) if g[0, i].abs().sum() > 0}
        assert touched == set(maps)


def test_layer_gradchecks():
    x = torch.randn(2, 6, 14, 14, dtype=torch.float64, requires_grad=True)
    conv = PartialConv2d(6, C3_TABLE, 5).double()
    w = conv.weight.detach().clone().requires_grad_()

    def c3(x, w):
        return torch.func.functional_call(conv, {"weight": w, "bias": conv.bias}, (x,))

    assert torch.autograd.gradcheck(c3, (x[:1, :, :9, :9], w), eps=1e-6)
    sub = Subsampling(6).double()
    assert torch.autograd.gradcheck(sub, (x,))
    # the subsampling is w * (sum of 2x2) + b
    torch.testing.assert_close(sub(x)[0, 0, 0, 0], 0.25 * x[0, 0, :2, :2].sum())


def test_rbf_output_is_squared_distance_to_fixed_codes():
    codes = digit_codes()
    rbf = EuclideanRBF(codes)
    x = torch.randn(5, 84)
    torch.testing.assert_close(rbf(x), torch.cdist(x, codes) ** 2, rtol=1e-4, atol=1e-3)
    assert torch.equal(rbf(codes).argmin(dim=1), torch.arange(10))  # a code is nearest itself
    assert len({tuple(c.tolist()) for c in codes}) == 10
    other = digit_codes(26)
    assert other.shape == (26, 84) and torch.equal(other, digit_codes(26))  # seeded


def test_forward_backward_and_input_check():
    torch.manual_seed(0)
    net = lenet5()
    y = net(torch.randn(2, 1, 32, 32))
    assert y.shape == (2, 10) and torch.all(y <= 0)  # -y, y a sum of squares
    y.logsumexp(dim=1).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    with pytest.raises(DataError, match="32, 32"):
        net(torch.randn(2, 1, 28, 28))


def test_modern_variant():
    net = lenet5(10, 3, modern=True)
    # C1 (75+1)*6, C3 (150+1)*16, 400->120, 120->84, 84->10
    assert count_parameters(net) == 456 + 2_416 + 48_120 + 10_164 + 850
    assert count_parameters(lenet5(modern=True)) == 61_706
    y = net(torch.randn(2, 3, 32, 32))
    y.sum().backward()
    assert y.shape == (2, 10)
