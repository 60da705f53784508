"""The 1-D CNN: its layer formula by explicit sums, parameter count in closed form, errors."""

import pytest
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.zoo.cnn1d import CNN1d, cnn1d


def test_first_layer_is_the_docstring_sum_with_same_padding():
    torch.manual_seed(0)
    net = CNN1d(7, 4, 2, channels=(3,), kernel_size=3)
    conv = net.features[0]
    x = torch.randn(2, 2, 7, dtype=torch.float64)
    w, b = conv.weight.detach().double(), conv.bias.detach().double()
    F, P = 3, 1
    u = torch.zeros(2, 3, 7, dtype=torch.float64)
    for n in range(2):
        for j in range(3):
            for t in range(7):
                s = float(b[j])
                for i in range(2):
                    for k in range(F):
                        if 0 <= t + k - P < 7:
                            s += float(w[j, i, k] * x[n, i, t + k - P])
                u[n, j, t] = s
    with torch.no_grad():
        got = net.features.double()(x)
    assert torch.allclose(got, u.clamp_min(0), atol=1e-12)  # z = ReLU(u)


@pytest.mark.parametrize("channels,kernel,bn", [((32, 64, 64), 5, False), ((25, 25, 25), 5, True), ((8,), 3, False)])
def test_parameter_count_in_closed_form(channels, kernel, bn):
    L, K = 40, 10
    net = cnn1d(L, K, channels=channels, kernel_size=kernel, batch_norm=bn)
    expect, c = 0, 1
    for width in channels:
        expect += kernel * c * width + (2 * width if bn else width)  # weights + (gamma, beta | bias)
        c = width
    n = L // 2 ** (len(channels) - 1)  # 2-wide max pooling after every layer but the first
    expect += (c * n + 1) * K
    assert sum(p.numel() for p in net.parameters()) == expect
    assert net(torch.randn(3, L)).shape == (3, K)
    assert net(torch.randn(3, 1, L)).shape == (3, K)


def test_dropout_is_active_only_in_training():
    torch.manual_seed(0)
    net = CNN1d(16, 3, channels=(4, 4), keep=0.5)
    x = torch.randn(5, 16)
    net.eval()
    assert torch.equal(net(x), net(x))
    net.train()
    assert not torch.equal(net(x), net(x))


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(length=40, kernel_size=4), ConfigError, "kernel_size must be odd"),
    (dict(length=40, channels=()), ConfigError, "at least one layer"),
    (dict(length=40, channels=(8, 0)), ConfigError, "channels must be a positive integer"),
    (dict(length=2, channels=(4, 4, 4)), ConfigError, "poolings leave nothing"),
])
def test_bad_settings_raise_config_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        CNN1d(**kwargs)


def test_wrong_input_shape_names_what_was_expected():
    with pytest.raises(DataError, match=r"expects \(N, 1, 40\) inputs or \(N, 40\), got shape \(2, 39\)"):
        CNN1d(40)(torch.zeros(2, 39))
