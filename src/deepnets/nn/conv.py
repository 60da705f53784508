"""The lecture's convolution arithmetic (output volume, weights, connections) and the conv-BN-ReLU block.

A convolution layer takes an I₁ × J₁ × K₁ volume and, with L filters of size F × F × K₁,
stride S and zero padding P, gives an I₂ × J₂ × K₂ volume:

    I₂ = (I₁ − F + 2P)/S + 1,   J₂ = (J₁ − F + 2P)/S + 1,   K₂ = L

where (I₁ − F + 2P) must be divisible by S. Each filter has F·F·K₁ + 1 weights (one bias), the
layer (F·F·K₁ + 1)·L, and every output unit is wired to F·F·K₁ + 1 of them:
connections = (F·F·K₁ + 1)·L·I₂·J₂.

The lecture's worked example: a 32×32×3 image and six 5×5×3 filters give 28×28×6 with 456
weights and 357,504 connections; ten 5×5×6 filters after that give 24×24×10 and 456 + 1,510 =
1,966 weights in all.

>>> conv_output_shape(32, F=5)
28
>>> conv_output_shape((32, 32), F=5, P=2)
(32, 32)
>>> count_weights(5, 3, 6), count_connections(32, F=5, K1=3, L=6)
(456, 357504)
>>> conv_output_shape(32, F=5, S=2)
Traceback (most recent call last):
...
deepnets.errors.ConfigError: stride S=2 does not divide I1 - F + 2P = 32 - 5 + 2*0 = 27: the output size would be (32 - 5 + 2*0)/2 + 1 = 14.5, expected a whole number

Reference: LeCun, Bottou, Bengio & Haffner (1998), "Gradient-based learning applied to
document recognition", Proc. IEEE 86(11); Dumoulin & Visin (2016), "A guide to convolution
arithmetic for deep learning", arXiv:1603.07285.
"""

from __future__ import annotations

from torch import nn

from ..errors import ConfigError

__all__ = ["conv_output_shape", "count_weights", "count_connections"]


def _positive_int(name: str, value, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise ConfigError naming it when it is not an int >= minimum."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _output_size(I1: int, F: int, P: int, S: int) -> int:
    """I₂ = (I₁ − F + 2P)/S + 1 for one spatial axis, refusing a stride that does not divide."""
    span = I1 - F + 2 * P  # the distance the filter travels
    if span < 0:
        raise ConfigError(
            f"filter F={F} is larger than the padded input I1 + 2P = {I1} + 2*{P} = {I1 + 2 * P}")
    if span % S:
        raise ConfigError(
            f"stride S={S} does not divide I1 - F + 2P = {I1} - {F} + 2*{P} = {span}: the output "
            f"size would be ({I1} - {F} + 2*{P})/{S} + 1 = {span / S + 1:g}, expected a whole number")
    return span // S + 1


def conv_output_shape(I, F: int, P: int = 0, S: int = 1):
    """Spatial output size of a convolution: I₂ = (I₁ − F + 2P)/S + 1 on each axis.

    Args:
        I: input size I₁, an int for a square input or an (I₁, J₁) pair.
        F: filter size (F × F).
        P: zero padding on each border (default 0).
        S: stride (default 1).

    Returns:
        I₂ as an int when ``I`` is an int, else the pair (I₂, J₂).

    Raises:
        ConfigError: when S does not divide I₁ − F + 2P (the lecture's 32, F=5, S=2 -> 14.5), or
            when the filter does not fit into the padded input.
    """
    F = _positive_int("filter size F", F)
    P = _positive_int("padding P", P, minimum=0)
    S = _positive_int("stride S", S)
    if isinstance(I, (tuple, list)):
        if len(I) != 2:
            raise ConfigError(f"input size must be an int or an (H, W) pair, got {I!r}")
        H, W = (_positive_int("input size", v) for v in I)
        return _output_size(H, F, P, S), _output_size(W, F, P, S)
    return _output_size(_positive_int("input size", I), F, P, S)


def count_weights(F: int, K1: int, L: int, bias: bool = True) -> int:
    """Trainable weights of a convolution layer: (F·F·K₁ + 1)·L (F·F·K₁·L without bias).

    Args:
        F: filter size.
        K1: input depth (channels) K₁.
        L: number of filters (output depth K₂).
        bias: one bias per filter (default True).
    """
    F, K1, L = (_positive_int(n, v) for n, v in (("filter size F", F), ("depth K1", K1),
                                                 ("filters L", L)))
    return (F * F * K1 + int(bias)) * L


def count_connections(I, F: int, K1: int, L: int, P: int = 0, S: int = 1,
                      bias: bool = True) -> int:
    """Edges of a convolution layer: (F·F·K₁ + 1)·L·I₂·J₂ (each output unit sees one filter).

    Weight sharing makes the connections many more than the weights: 456 weights, 357,504 edges
    for the lecture's first layer. Zero-padded inputs are counted as connections too.

    Args:
        I: input size I₁ (int) or (I₁, J₁).
        F, K1, L, P, S: filter size, input depth, number of filters, padding, stride.
        bias: count the bias as a connection (default True, as the lecture does).
    """
    out = conv_output_shape(I, F, P, S)
    I2, J2 = out if isinstance(out, tuple) else (out, out)
    return count_weights(F, K1, L, bias) * I2 * J2


class ConvBNReLU(nn.Sequential):
    """Convolution (no bias: BN's β replaces it), batch normalization, ReLU.

    Args:
        in_channels, out_channels: K₁ and L.
        kernel_size: F, an int or (kh, kw).
        stride, padding: S and P (ints or pairs).
        eps: batch-norm ε (1e-5 as torch; 1e-3 in the TF-slim Inception models).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 eps: float = 1e-5):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False),
            nn.BatchNorm2d(out_channels, eps=eps),
            nn.ReLU(inplace=True),
        )
