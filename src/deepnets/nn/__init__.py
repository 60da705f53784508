"""Layers and small models: the MLP, recurrent nets (Elman, peephole LSTM, GRU), convolution
arithmetic, dropout, normalization, the 1-D CNN, the image front that turns flat rows into
sequences or images, and the 2-D convolutional seq2seq network."""

from .cnn1d import CNN1d, cnn1d
from .conv import conv_output_shape, count_connections, count_weights
from .dropout import DROPOUT_MODES, Dropout, dropout, dropout_mask
from .gru import GRU, gru_cell, gru_step
from .image import ToImage, random_shift, to_image
from .lstm import LSTM, LSTMFunction, lstm_cell, lstm_loop
from .mlp import MLP, xor_step_network
from .norm import (BatchNorm, LayerNorm, WeightNormLinear, batch_norm, batch_norm_backward,
                   layer_norm, weight_norm)
from .recurrent import HEADS, RecurrentNet, detach_state, truncated_bptt
from .rnn import ElmanRNN
from .seq2seq_2d import SOURCE_POOLS, CausalConv2d, Pervasive2d, causal_conv2d, channel_norm

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
    # 1-D CNN (MNIST-1D) and flat rows as sequences/images (reshape, resize, pad, random shifts)
    "CNN1d", "cnn1d", "ToImage", "to_image", "random_shift",
    # recurrent cores and their pure-function cells
    "ElmanRNN", "LSTM", "GRU", "LSTMFunction", "lstm_cell", "lstm_loop", "gru_cell", "gru_step",
    # heads and training through time
    "RecurrentNet", "HEADS", "truncated_bptt", "detach_state",
    # the 2-D convolutional seq2seq network (Pervasive Attention) and its causal convolution
    "Pervasive2d", "CausalConv2d", "causal_conv2d", "channel_norm", "SOURCE_POOLS",
]
