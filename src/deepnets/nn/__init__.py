"""Layers and small models: the MLP, recurrent nets (Elman, peephole LSTM, GRU), convolution
arithmetic, dropout, normalization, the 1-D CNN and the image front that turns flat rows into
sequences or images, attention (SDPA, masks, multi-head, sinusoidal positions), the Transformer,
the LSTM encoder-decoder with attention, and the 2-D convolutional seq2seq network."""

from .captioner import Captioner, ImageEncoder, caption_scores
from .char_lm import CharLM, bits_per_char, evaluate_bpc, sample
from .attention import (MultiHeadAttention, PositionalEncoding, causal_mask, merge_heads, padding_mask,
                        scaled_dot_product_attention, sinusoidal_positions, split_heads)
from .cnn1d import CNN1d, cnn1d
from .recurrent import CORES, build_core
from .conv import conv_output_shape, count_connections, count_weights
from .dropout import DROPOUT_MODES, Dropout, dropout, dropout_mask
from .recurrent.gru import GRU, gru_cell, gru_step
from .image import ToImage, random_shift, to_image
from .recurrent.lstm import LSTM, LSTMFunction, lstm_cell, lstm_loop
from .linear_ar import LinearAR, least_squares_ar
from .mlp import MLP, xor_step_network
from .narx import NARX, iterated_forecast, one_step_forecast
from .norm import (BatchNorm, LayerNorm, WeightNormLinear, batch_norm, batch_norm_backward,
                   layer_norm, weight_norm)
from .recurrent import detach_state
from .recurrent.elman import ElmanRNN
from .seq_classifier import READOUTS, SequenceClassifier, sequence_classifier
from .seq2seq_lstm import LSTMSeq2Seq, reverse_padded
from .transformer import DecoderLayer, EncoderLayer, Transformer
from .text_classifier import TextClassifier, last_step
from .seq2seq_2d import SOURCE_POOLS, CausalConv2d, Pervasive2d, causal_conv2d, channel_norm

__all__ = [
    # the multilayer perceptron with the co-state backward pass
    "MLP", "xor_step_network",
    # delay-tap models of time series: the NARX MLP, its forecasts, the least-squares AR baseline
    "NARX", "iterated_forecast", "one_step_forecast", "LinearAR", "least_squares_ar",
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
    "detach_state",
    # token models: cores by name, the character language model, many-to-one classification
    "CORES", "build_core", "CharLM", "bits_per_char", "evaluate_bpc", "sample",
    "TextClassifier", "last_step",
    # one-to-many: image captioning (a CNN encoder, an LSTM decoder)
    "Captioner", "ImageEncoder", "caption_scores",
    # attention (Vaswani et al. 2017) and the encoder-decoders built on it
    "scaled_dot_product_attention", "padding_mask", "causal_mask", "sinusoidal_positions",
    "PositionalEncoding", "MultiHeadAttention", "split_heads", "merge_heads",
    "Transformer", "EncoderLayer", "DecoderLayer", "LSTMSeq2Seq", "reverse_padded",
    # many-to-one sequence classifiers (MNIST-1D's GRU): one or two directions, last or all states
    "SequenceClassifier", "sequence_classifier", "READOUTS",
    # the 2-D convolutional seq2seq network (Pervasive Attention) and its causal convolution
    "Pervasive2d", "CausalConv2d", "causal_conv2d", "channel_norm", "SOURCE_POOLS",
]
