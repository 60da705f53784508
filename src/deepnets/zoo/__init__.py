"""Whole networks, one family a file, each a plain ``torch.nn.Module`` built from :mod:`deepnets.nn`.

- Image classifiers from LeNet-5 to Inception-v4 and Inception-ResNet-v2. Every builder takes
  ``num_classes`` and ``in_channels`` first; ``ZOO`` maps a name to its builder and native (C, H, W) input shape, and
  ``model_table()`` lists each with its trainable parameters and multiply-accumulates at that shape.
- Sequence networks: the 1-D CNN and the recurrent classifiers (MNIST-1D), the text classifier,
  the character language model, the captioner, the Transformer, the LSTM encoder-decoder and the
  2-D convolutional seq2seq network, NARX and linear AR models of time series, and
  :class:`RecurrentNet` (a core with the lecture's read-out).
- :func:`parity_net`: hand-set ReLU networks that compute n-bit parity exactly, shallow (one
  hidden unit per odd pattern, or n units of the bit count) or deep (⌈log₂ n⌉ layers of 2 units).
- :class:`ELM`, the extreme learning machine: random fixed hidden units and output weights by
  ridge (λ by GCV), LASSO or elastic net, solved in closed form rather than trained by ``fit``.
- :class:`Autoencoder` and :class:`StackedAutoencoder`: the lecture's encoder and decoder
  (V = Wᵀ when tied), plain or denoising, trained by ``fit`` on ``(x, x)``. Their inputs have no common shape,
  so they are classes and builders by name here rather than ``ZOO`` entries; ``deepnets train``
  reaches the ones it builds through its own ``model.kind`` table.

>>> build("resnet18", num_classes=10).head[-1].out_features
10
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ._common import pick
from .autoencoder import Autoencoder, StackedAutoencoder, corrupt
from .alexnet import ALEXNET_VARIANTS, AlexNet, alexnet
from .captioner import Captioner, ImageEncoder
from .char_lm import CharLM
from .cnn1d import CNN1d, cnn1d
from .elm import ELM
from .googlenet import GOOGLENET_VARIANTS, GoogLeNet, googlenet
from .inception_resnet_v2 import InceptionResNetV2, inception_resnet_v2
from .inception_v4 import InceptionV4, inception_v4
from .lenet import LeNet5, lenet5
from .linear_ar import LinearAR, least_squares_ar
from .narx import NARX, iterated_forecast, one_step_forecast
from .parity import PARITY_NETS, parity_net, parity_weight_count
from .recurrent_net import HEADS, RecurrentNet
from .resnet import ResNet, resnet18, resnet18_cifar, resnet34, resnet50, resnet101, resnet152
from .seq2seq_2d import SOURCE_POOLS, CausalConv2d, Pervasive2d, causal_conv2d, channel_norm
from .seq2seq_lstm import LSTMSeq2Seq, reverse_padded
from .seq_classifier import READOUTS, SequenceClassifier, sequence_classifier
from .summary import count_macs, count_parameters
from .text_classifier import TextClassifier, last_step
from .transformer import Transformer
from .vgg import VGG, vgg16, vgg19
from .zfnet import ZFNet, zfnet

__all__ = [
    # builders
    "lenet5", "lenet5_modern", "alexnet", "zfnet", "vgg16", "vgg19", "googlenet",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet18_cifar",
    "inception_v4", "inception_resnet_v2",
    # classes and variant tables
    "LeNet5", "AlexNet", "ZFNet", "VGG", "GoogLeNet", "ResNet", "InceptionV4", "InceptionResNetV2",
    "ALEXNET_VARIANTS", "GOOGLENET_VARIANTS",
    # registry and summary
    "ZOO", "ZooEntry", "build", "model_table", "count_macs", "count_parameters",
    # sequences as signals: the 1-D CNN and many-to-one recurrent classifiers (MNIST-1D)
    "CNN1d", "cnn1d", "SequenceClassifier", "sequence_classifier", "READOUTS",
    # a recurrent core with the lecture's read-out under three heads
    "RecurrentNet", "HEADS",
    # token models: text classification at each sequence's last real step, the character LM
    "TextClassifier", "last_step", "CharLM",
    # one-to-many: image captioning (a CNN encoder, an LSTM decoder)
    "Captioner", "ImageEncoder",
    # encoder-decoders: the Transformer, the LSTM with attention, the 2-D convolutional network
    "Transformer", "LSTMSeq2Seq", "reverse_padded",
    "Pervasive2d", "CausalConv2d", "causal_conv2d", "channel_norm", "SOURCE_POOLS",
    # delay-tap models of time series: the NARX MLP, its forecasts, the least-squares AR baseline
    "NARX", "iterated_forecast", "one_step_forecast", "LinearAR", "least_squares_ar",
    # the extreme learning machine: random fixed hidden units, output weights in closed form
    "ELM",
    # autoencoders: tied or untied, stacked, denoising (trained by fit on (x, x))
    "Autoencoder", "StackedAutoencoder", "corrupt",
    # hand-set ReLU nets computing n-bit parity exactly: depth against width (Håstad, Telgarsky)
    "parity_net", "parity_weight_count", "PARITY_NETS",
]


def lenet5_modern(num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    """LeNet-5 with ReLU, max pooling, full C3 and a linear output: ``lenet5(modern=True)``."""
    return lenet5(num_classes, in_channels, modern=True)


@dataclass(frozen=True)
class ZooEntry:
    """A named architecture: its builder and the (C, H, W) input it was designed for."""

    builder: Callable[..., nn.Module]
    input_shape: tuple[int, int, int]
    num_classes: int = 1000  # the paper's output layer


ZOO: dict[str, ZooEntry] = {
    "lenet5": ZooEntry(lenet5, (1, 32, 32), 10),
    "lenet5_modern": ZooEntry(lenet5_modern, (1, 32, 32), 10),
    "alexnet": ZooEntry(alexnet, (3, 224, 224)),
    "zfnet": ZooEntry(zfnet, (3, 224, 224)),
    "vgg16": ZooEntry(vgg16, (3, 224, 224)),
    "vgg19": ZooEntry(vgg19, (3, 224, 224)),
    "googlenet": ZooEntry(googlenet, (3, 224, 224)),
    "resnet18": ZooEntry(resnet18, (3, 224, 224)),
    "resnet34": ZooEntry(resnet34, (3, 224, 224)),
    "resnet50": ZooEntry(resnet50, (3, 224, 224)),
    "resnet101": ZooEntry(resnet101, (3, 224, 224)),
    "resnet152": ZooEntry(resnet152, (3, 224, 224)),
    "resnet18_cifar": ZooEntry(resnet18_cifar, (3, 32, 32), 10),
    "inception_v4": ZooEntry(inception_v4, (3, 299, 299)),
    "inception_resnet_v2": ZooEntry(inception_resnet_v2, (3, 299, 299)),
}


def build(name: str, **kwargs) -> nn.Module:
    """Build the zoo model ``name`` (a key of ZOO) with the builder's keyword arguments."""
    return pick(ZOO, name, "model").builder(**kwargs)


def model_table(names=None) -> list[tuple[str, int, int, tuple[int, int, int]]]:
    """Rows (name, trainable parameters, MACs at the native input, native (C, H, W) shape).

    Models are built on the meta device at their paper's class count, so the table costs no
    memory and little time.

    Args:
        names: the zoo names to list (default all, in ZOO's order).
    """
    rows = []
    for name in names if names is not None else ZOO:
        entry = pick(ZOO, name, "model")
        with torch.device("meta"):
            model = entry.builder(num_classes=entry.num_classes, in_channels=entry.input_shape[0])
        rows.append((name, count_parameters(model), count_macs(model, entry.input_shape),
                     entry.input_shape))
    return rows
