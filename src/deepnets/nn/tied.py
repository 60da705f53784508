"""The autoencoder's tied layer: one weight matrix read forwards by the encoder and transposed by
the decoder, as the lecture writes it (V = Wᵀ).

Encoder  h_i = f_e(w_iᵀ x + w_0),  i = 1..r,  W = [w_1 … w_r]  (p × r)
Decoder  x̂_j = g_d(v_jᵀ h + v_0),  j = 1..p,  V = [v_1 … v_p] = Wᵀ  (r × p)

``weight`` is stored as torch's ``nn.Linear(p, r)`` stores it, (r, p) with rows w_iᵀ, so that it
copies into an MLP's hidden layer unchanged (:func:`deepnets.train.pretrain.pretrain_mlp`); the
encoder and the decoder keep biases of their own (w_0 of length r, v_0 of length p).

Reference: Hinton & Salakhutdinov 2006 (stacked autoencoders with tied weights for dimensionality
reduction); Bengio et al. 2007 (greedy layer-wise training of deep networks).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .._registry import check_positive_int
from ..init import init_linear_


class TiedLinear(nn.Module):
    """A linear encoder a = Wᵀx + w_0 whose decoder reads the same weights transposed, x̂ = V h + v_0
    with V = Wᵀ (in the lecture's column notation; here ``weight`` is (r, p), rows w_iᵀ).

    Args:
        in_features: p, the inputs (and the decoder's outputs).
        out_features: r, the code units.
        bias: give the encoder (w_0) and the decoder (v_0) biases. Default True.
        init: an initialisation of :mod:`deepnets.init` for W and w_0 (v_0 starts at zero).
            Default ``"xavier"`` (Glorot & Bengio 2010: the weights serve two directions).
        generator: draws the initial weights (or ``seed``).

    Shape: ``forward`` (N, p) -> (N, r); ``decode`` (N, r) -> (N, p).

    >>> layer = TiedLinear(4, 2, seed=0)
    >>> layer.decode(layer(torch.zeros(3, 4))).shape
    torch.Size([3, 4])
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, init: str = "xavier",
                 seed: int | None = None, generator: torch.Generator | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        check_positive_int("in_features", in_features)
        check_positive_int("out_features", out_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features, dtype=dtype))  # (r, p)
        self.bias = nn.Parameter(torch.empty(out_features, dtype=dtype)) if bias else None  # w_0 (r,)
        self.decoder_bias = nn.Parameter(torch.zeros(in_features, dtype=dtype)) if bias else None  # v_0 (p,)
        if generator is None and seed is not None:
            generator = torch.Generator().manual_seed(seed)
        init_linear_(self.weight, self.bias, init, generator=generator)

    def forward(self, x: Tensor) -> Tensor:
        """The encoder's activation a = Wᵀx + w_0: (N, p) -> (N, r)."""
        return F.linear(x, self.weight, self.bias)

    def decode(self, h: Tensor) -> Tensor:
        """The decoder's activation V h + v_0 with V = Wᵀ (the same Parameter): (N, r) -> (N, p)."""
        return F.linear(h, self.weight.t(), self.decoder_bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


__all__ = ["TiedLinear"]
