"""The lecture's convolution arithmetic, checked against its worked numbers and against torch."""

import pytest
import torch

from deepnets.errors import ConfigError
from deepnets.nn.conv import conv_output_shape, count_connections, count_weights


def test_first_layer_of_the_lecture():
    # 32x32x3 image, six 5x5x3 filters: 28x28x6, (5*5*3 + 1)*6 = 456 weights, 357,504 edges
    assert conv_output_shape(32, F=5) == 28
    assert count_weights(F=5, K1=3, L=6) == 456
    assert count_connections(32, F=5, K1=3, L=6) == 357_504
    assert count_connections((32, 32), F=5, K1=3, L=6) == 456 * 28 * 28


def test_two_layers_of_the_lecture():
    # then ten 5x5x6 filters: 24x24x10, 456 + 1,510 = 1,966 weights
    I1 = conv_output_shape((32, 32), F=5)
    assert I1 == (28, 28)
    assert conv_output_shape(I1, F=5) == (24, 24)
    assert count_weights(5, 6, 10) == 1_510
    assert count_weights(5, 3, 6) + count_weights(5, 6, 10) == 1_966


def test_stride_three_and_padding_two():
    I1 = conv_output_shape(32, F=5, S=3)
    assert I1 == 10  # 10x10x6
    assert conv_output_shape(I1, F=5, S=1) == 6  # 6x6x10
    assert conv_output_shape(32, F=5, P=2) == 32  # P = (F - 1)/2 keeps 32x32
    assert conv_output_shape(conv_output_shape(32, F=5, P=2), F=5, P=2) == 32


def test_stride_two_is_refused_with_the_numbers():
    with pytest.raises(ConfigError) as err:
        conv_output_shape(32, F=5, S=2)
    msg = str(err.value)
    assert "14.5" in msg and "S=2" in msg and "27" in msg
    with pytest.raises(ConfigError, match="14.5"):
        conv_output_shape((32, 33), F=5, S=2)  # the H axis fails although W would fit
    with pytest.raises(ConfigError, match="larger than the padded input"):
        conv_output_shape(3, F=5)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_bad_values_are_named(bad):
    with pytest.raises(ConfigError, match=repr(bad).replace("(", r"\(")):
        conv_output_shape(32, F=3, S=bad)
    with pytest.raises(ConfigError):
        count_weights(bad, 3, 6)


@pytest.mark.parametrize("I,F,P,S", [(32, 5, 0, 1), (32, 5, 0, 3), (32, 5, 2, 1), (227, 11, 0, 4),
                                     ((31, 17), 3, 1, 2), (13, 3, 1, 1)])
def test_agrees_with_torch(I, F, P, S):
    K1, L = 3, 4
    H, W = I if isinstance(I, tuple) else (I, I)
    conv = torch.nn.Conv2d(K1, L, F, stride=S, padding=P)
    y = conv(torch.zeros(1, K1, H, W))
    assert conv_output_shape((H, W), F, P, S) == tuple(y.shape[2:])
    assert count_weights(F, K1, L) == sum(p.numel() for p in conv.parameters())
    assert count_weights(F, K1, L, bias=False) == conv.weight.numel()
    assert count_connections((H, W), F, K1, L, P, S) == (F * F * K1 + 1) * y[0].numel()
