"""Layers: the lecture's MLP, convolution arithmetic and the conv-BN-ReLU block, dropout,
normalization, the image front that turns flat rows into sequences or images, attention (SDPA,
masks, multi-head, sinusoidal positions), the Transformer's encoder and decoder layers, and the
recurrent cores (:mod:`deepnets.nn.recurrent`), the autoencoder's tied layer and the restricted
Boltzmann machine.
Whole networks built from them live in :mod:`deepnets.zoo`."""

from . import recurrent
from .attention import (MultiHeadAttention, PositionalEncoding, causal_mask, merge_heads, padding_mask,
                        scaled_dot_product_attention, sinusoidal_positions, split_heads)
from .conv import ConvBNReLU, conv_output_shape, count_connections, count_weights
from .dropout import DROPOUT_MODES, Dropout, dropout, dropout_mask
from .image import ToImage, random_shift, to_image
from .mlp import MLP, supports_costate, xor_step_network
from .norm import (BatchNorm, LayerNorm, WeightNormLinear, batch_norm, batch_norm_backward,
                   layer_norm, weight_norm)
from .rbm import BernoulliRBM
from .tied import TiedLinear
from .recurrent import (CORES, GRU, LSTM, ElmanRNN, LSTMFunction, build_core, detach_state, gru_cell,
                        gru_step, lstm_cell, lstm_loop)
from .transformer import DecoderLayer, EncoderLayer, feed_forward

__all__ = [
    # the multilayer perceptron with the co-state backward pass
    "MLP", "supports_costate", "xor_step_network",
    # convolution arithmetic (the lecture's I2 = (I1 - F + 2P)/S + 1, (F*F*K1 + 1)*L) and the conv block
    "conv_output_shape", "count_weights", "count_connections", "ConvBNReLU",
    # dropout, classic and inverted
    "dropout", "dropout_mask", "Dropout", "DROPOUT_MODES",
    # normalization
    "batch_norm", "batch_norm_backward", "layer_norm", "weight_norm",
    "BatchNorm", "LayerNorm", "WeightNormLinear",
    # flat rows as sequences/images (reshape, resize, pad, random shifts)
    "ToImage", "to_image", "random_shift",
    # attention (Vaswani et al. 2017)
    "scaled_dot_product_attention", "padding_mask", "causal_mask", "sinusoidal_positions",
    "PositionalEncoding", "MultiHeadAttention", "split_heads", "merge_heads",
    # the Transformer's pre-norm encoder and decoder layers (the network is deepnets.zoo.Transformer)
    "EncoderLayer", "DecoderLayer", "feed_forward",
    # the restricted Boltzmann machine (binary units; trained by deepnets.train.train_rbm)
    "BernoulliRBM",
    # recurrent cores (the subpackage), their pure-function cells, and the cores by name
    "recurrent", "ElmanRNN", "LSTM", "GRU", "LSTMFunction", "lstm_cell", "lstm_loop", "gru_cell", "gru_step",
    "detach_state", "CORES", "build_core",
    # the autoencoder's tied layer: decoder V = Wᵀ (the networks are deepnets.zoo.Autoencoder, StackedAutoencoder)
    "TiedLinear",
]
