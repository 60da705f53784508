"""The Transformer's encoder and decoder layers (Vaswani et al. 2017), pre-norm.

Encoder layer (pre-norm: the LayerNorm sits inside each residual branch, before the sublayer,
and one more LayerNorm ends each stack; Xiong et al. 2020 show it trains without the warm-up the
original post-norm x = LN(x + F(x)) needs):

    x <- x + Dropout(SelfAttn(LN(x), mask = source padding))
    x <- x + Dropout(FFN(LN(x))),          FFN(u) = W_2 ReLU(W_1 u + b_1) + b_2

Decoder layer, with m the encoder output ("memory"):

    y <- y + Dropout(SelfAttn(LN(y), mask = causal))
    y <- y + Dropout(CrossAttn(LN(y), m, mask = source padding))
    y <- y + Dropout(FFN(LN(y)))

The decoder layer also takes the keys and values of earlier target positions (``cache``), so a
decoder can run one position at a time (incremental decoding) and get what it would get from
the whole prefix. :class:`~deepnets.zoo.transformer.Transformer` stacks them.

Reference: Vaswani et al. (2017), "Attention is all you need", NeurIPS; pre-norm: Xiong et al.
(2020), "On layer normalization in the Transformer architecture", ICML.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .attention import MultiHeadAttention


def feed_forward(d_model: int, d_ff: int, dropout: float) -> nn.Sequential:
    """FFN(u) = W_2 Dropout(ReLU(W_1 u + b_1)) + b_2, position by position: (N, L, d) -> (N, L, d)."""
    return nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))


class EncoderLayer(nn.Module):
    """x <- x + SelfAttn(LN x); x <- x + FFN(LN x) (pre-norm)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.ff = feed_forward(d_model, d_ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        h = self.norm1(x)
        x = x + self.drop(self.attn(h, h, mask=mask))                   # (N, S, d)
        return x + self.drop(self.ff(self.norm2(x)))


class DecoderLayer(nn.Module):
    """y <- y + SelfAttn(LN y); y <- y + CrossAttn(LN y, m); y <- y + FFN(LN y) (pre-norm)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout=dropout)
        self.ff = feed_forward(d_model, d_ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, y: Tensor, cross_kv: tuple[Tensor, Tensor], cross_mask: Tensor, *,
                self_mask: Tensor | None = None, cache: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """One layer: y (N, T, d) -> (N, T, d), and its self-attention keys and values (N, h, t, d_k).

        ``cross_kv`` are the memory's heads; ``cache`` holds the keys and values of earlier
        positions (incremental decoding), which the T new positions' own are appended to.
        """
        h = self.norm1(y)
        K, V = self.self_attn.project_kv(h)                                # (N, h, T, d_k)
        if cache is not None:
            K, V = torch.cat([cache[0], K], dim=2), torch.cat([cache[1], V], dim=2)   # (N, h, t, d_k)
        y = y + self.drop(self.self_attn.attend(h, K, V, self_mask))
        y = y + self.drop(self.cross_attn.attend(self.norm2(y), *cross_kv, cross_mask))
        return y + self.drop(self.ff(self.norm3(y))), (K, V)
