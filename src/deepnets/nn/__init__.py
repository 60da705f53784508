"""Layers and small models: the MLP, convolution arithmetic, dropout, normalization."""

from .conv import conv_output_shape, count_connections, count_weights
from .dropout import DROPOUT_MODES, Dropout, dropout, dropout_mask
from .mlp import MLP, xor_step_network
from .norm import (BatchNorm, LayerNorm, WeightNormLinear, batch_norm, batch_norm_backward,
                   layer_norm, weight_norm)

__all__ = [
    # the multilayer perceptron with the co-state backward pass
    "MLP", "xor_step_network",
    # convolution arithmetic (the lecture's I2 = (I1 - F + 2P)/S + 1, (F*F*K1 + 1)*L)
    "conv_output_shape", "count_weights", "count_connections",
    # dropout, classic and inverted
    "dropout", "dropout_mask", "Dropout", "DROPOUT_MODES",
    # normalization
    "batch_norm", "batch_norm_backward", "layer_norm", "weight_norm",
    "BatchNorm", "LayerNorm", "WeightNormLinear",
]
