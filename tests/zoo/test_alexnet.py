"""AlexNet: both variants' parameter counts, the lecture's 55x55x96, a CPU training pass."""

import pytest
import torch

from deepnets.errors import ConfigError
from deepnets.nn.conv import conv_output_shape, count_weights
from deepnets.zoo import alexnet


def test_parameter_counts(meta_params):
    assert meta_params(alexnet) == 61_100_840
    assert meta_params(alexnet, variant="original") == 60_965_224
    # the original by the lecture's formula, grouped layers seeing half the maps
    convs = (count_weights(11, 3, 96) + count_weights(5, 48, 256) + count_weights(3, 256, 384)
             + count_weights(3, 192, 384) + count_weights(3, 192, 256))
    fcs = (256 * 36 + 1) * 4096 + (4096 + 1) * 4096 + (4096 + 1) * 1000
    assert convs + fcs == 60_965_224


def test_first_layer_is_the_lecture_55x55x96():
    assert conv_output_shape(227, F=11, S=4) == 55
    with torch.device("meta"):
        net = alexnet(variant="original").eval()
        h = net.features[0](torch.zeros(1, 3, 227, 227))
        assert h.shape == (1, 96, 55, 55)
        assert net.features(torch.zeros(1, 3, 227, 227)).shape == (1, 256, 6, 6)
        assert alexnet().features(torch.zeros(1, 3, 224, 224)).shape == (1, 256, 6, 6)


def test_unknown_variant_names_the_choices():
    with pytest.raises(ConfigError, match="one_column"):
        alexnet(variant="two_column")
    with pytest.raises(ConfigError, match="num_classes"):
        alexnet(0)


def test_forward_backward_smallest_inputs(forward_backward):
    forward_backward(alexnet(7, 2), (2, 63, 63), 7)
    forward_backward(alexnet(5, variant="original"), (3, 67, 67), 5)
