"""Autoencoders: the lecture's encoder and decoder, one layer or stacked, tied or untied, plain or
denoising. Trained by :func:`deepnets.fit` on ``(x, x)`` with ``loss="lms"``: the reconstruction
cost E = ½ ‖x − x̂‖² of the one loss vocabulary, the inputs as their own targets.

Encoder  h = f_e(Wᵀ x + w_0)  (r ≪ p units);  decoder  x̂ = g_d(V h + v_0),  V = Wᵀ when tied.
Stacked (sizes p = M(0) > M(1) > … > M(K) = r):  h(k) = f_e(W(k)ᵀ h(k−1) + w_0(k)),  and back down
x̂(k−1) = f_e(V(k) x̂(k) + v_0(k)) with g_d at the bottom (k = 1).

Denoising (Vincent et al. 2008): in training only, the encoder reads a corrupted x̃ and the cost
still compares x̂ with the clean x. ``noise="mask"`` zeroes each input with probability ν (the
paper's masking noise); ``noise="gaussian"`` adds N(0, ν²). The corruption draws from torch's
global generator, which :func:`deepnets.fit` seeds from its ``seed``.

A linear autoencoder (identity f_e and g_d) with code size r trained to its minimum spans the
principal subspace of the top r components (Baldi & Hornik 1989): its reconstruction error is
PCA's (tested against ``numpy.linalg.svd`` and scikit-learn's ``PCA``).

References: Baldi & Hornik 1989; Hinton & Salakhutdinov 2006; Bengio et al. 2007; Vincent et al.
2008 (denoising autoencoders).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from .._registry import check_number
from ..activations import get_activation
from ..errors import ConfigError
from ..init import init_linear_
from ..nn.tied import TiedLinear

#: corruption of a denoising autoencoder's input: name -> x̃(x, ν)
NOISES = {
    "none": lambda x, level: x,
    "mask": lambda x, level: x * (torch.rand_like(x) >= level).to(x.dtype),   # zero each input w.p. ν
    "gaussian": lambda x, level: x + level * torch.randn_like(x),             # x + N(0, ν²)
}


def corrupt(x: Tensor, noise: str = "mask", level: float = 0.25) -> Tensor:
    """The denoising autoencoder's x̃: ``"mask"`` zeroes each entry with probability ``level``,
    ``"gaussian"`` adds noise of standard deviation ``level``, ``"none"`` returns x."""
    if noise not in NOISES:
        raise ConfigError(f"noise must be one of {list(NOISES)}, got {noise!r}")
    return NOISES[noise](x, level)


class StackedAutoencoder(nn.Module):
    """Encoders p = M(0) → M(1) → … → M(K) = r and the decoders back, tied (V(k) = W(k)ᵀ) or not.

    Args:
        sizes: the widths ``[p, M(1), ..., r]`` from the input down to the code (two or more).
        activation: f_e, the hidden units (encoders and all decoders but the last), an activation
            name or object. Default ``"logistic"``.
        output: g_d, the reconstruction's unit: ``"linear"`` (default) or any activation
            (``"logistic"`` for inputs in [0, 1]).
        tied: decoders read the encoders' weights transposed. Default True.
        noise: ``"none"`` (default), ``"mask"`` or ``"gaussian"``: the denoising variant.
        noise_level: ν, the masking probability or the Gaussian's standard deviation. Default 0.25.
        init: the encoders' initialisation (:mod:`deepnets.init`). Default ``"xavier"``.
        seed: seed of the initial weights (or ``generator``).

    Shape: (N, p) -> (N, p); ``encode`` (N, p) -> (N, r).

    >>> ae = StackedAutoencoder([64, 32, 8], seed=0)
    >>> ae.encode(torch.zeros(5, 64)).shape, ae(torch.zeros(5, 64)).shape
    (torch.Size([5, 8]), torch.Size([5, 64]))
    """

    def __init__(self, sizes: Sequence[int], activation="logistic", output="linear", *, tied: bool = True,
                 noise: str = "none", noise_level: float = 0.25, init: str = "xavier", seed: int | None = None,
                 generator: torch.Generator | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2 or not all(isinstance(m, int) and not isinstance(m, bool) and m > 0 for m in sizes):
            raise ConfigError(f"sizes must list at least two positive integers (inputs and code), got {sizes}")
        if noise not in NOISES:
            raise ConfigError(f"noise must be one of {list(NOISES)}, got {noise!r}")
        check_number("noise_level", noise_level, low=0.0, high=1.0 if noise == "mask" else None)
        if generator is None and seed is not None:
            generator = torch.Generator().manual_seed(seed)
        self.sizes, self.tied, self.noise, self.noise_level = sizes, bool(tied), noise, float(noise_level)
        self.f_e, self.g_d = get_activation(activation), get_activation(output)
        pairs = list(zip(sizes[:-1], sizes[1:]))
        if tied:  # one Parameter W(k) per layer, read by the encoder and (transposed) by the decoder
            self.encoders = nn.ModuleList(TiedLinear(a, b, init=init, generator=generator, dtype=dtype)
                                          for a, b in pairs)
            self.decoders = nn.ModuleList()
        else:  # W(k) and V(k) of their own, drawn by the same scheme; biases v_0(k) start at zero
            self.encoders = nn.ModuleList(nn.Linear(a, b, dtype=dtype) for a, b in pairs)
            self.decoders = nn.ModuleList(nn.Linear(b, a, dtype=dtype) for a, b in pairs)
            for enc, dec in zip(self.encoders, self.decoders):
                init_linear_(enc.weight, enc.bias, init, generator=generator)
                init_linear_(dec.weight, None, init, generator=generator)
                nn.init.zeros_(dec.bias)

    def encode(self, x: Tensor) -> Tensor:
        """The code h(K) of clean inputs: (N, p) -> (N, r)."""
        for enc in self.encoders:
            x = self.f_e(enc(x))
        return x

    def decode(self, h: Tensor) -> Tensor:
        """The reconstruction x̂ of a code: (N, r) -> (N, p)."""
        for k in reversed(range(len(self.encoders))):
            a = self.encoders[k].decode(h) if self.tied else self.decoders[k](h)
            h = (self.g_d if k == 0 else self.f_e)(a)
        return h

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.sizes[0]:
            raise ConfigError(f"the autoencoder expects input of shape (N, {self.sizes[0]}), got {tuple(x.shape)}")
        if self.training and self.noise != "none" and self.noise_level > 0:
            x = NOISES[self.noise](x, self.noise_level)  # x̃: training only
        return self.decode(self.encode(x))

    def extra_repr(self) -> str:
        return (f"sizes={self.sizes}, tied={self.tied}, f_e={self.f_e!r}, g_d={self.g_d!r}, "
                f"noise={self.noise!r}, noise_level={self.noise_level}")


class Autoencoder(StackedAutoencoder):
    """One encoder layer and its decoder: ``StackedAutoencoder([n_inputs, code_size], ...)``.

    >>> ae = Autoencoder(64, 8, activation="identity", seed=0)
    >>> ae.encoders[0].weight.shape
    torch.Size([8, 64])
    """

    def __init__(self, n_inputs: int, code_size: int, activation="logistic", output="linear", **kwargs):
        super().__init__([n_inputs, code_size], activation, output, **kwargs)


__all__ = ["Autoencoder", "StackedAutoencoder", "corrupt", "NOISES"]
