"""Scaled dot-product attention, its masks, multi-head attention and sinusoidal positions.

For queries Q (T, d_k), keys K (S, d_k) and values V (S, d_v), with M_ij = 0 where query i may
look at key j and -inf where it may not,

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + M) V                        (T, d_v)

and multi-head attention projects h times into d_k = d_model / h dimensions and concatenates:

    head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V),   MultiHead = [head_1; ...; head_h] W^O.

The attention itself is torch's ``scaled_dot_product_attention`` (SDPA), which picks a fused
kernel (flash, memory-efficient, or the CPU flash kernel) where the inputs allow and its math
path otherwise; this module adds the masks and the heads around it.

Masks are boolean and **True means "may attend"** (SDPA's convention; the opposite of
``torch.nn.MultiheadAttention``'s ``key_padding_mask``). They broadcast against the scores
(N, h, T, S): :func:`padding_mask` gives (N, 1, 1, S), :func:`causal_mask` gives (T, S), and
``padding_mask(src) & causal_mask(T)`` gives (N, 1, T, S). A query row with no key allowed
would give NaN; a padding mask over a sequence with at least one real token never does that.

Reference: Vaswani, Shazeer, Parmar, Uszkoreit, Jones, Gomez, Kaiser & Polosukhin (2017),
"Attention is all you need", NeurIPS (sections 3.2 and 3.5).

>>> q = k = v = torch.randn(2, 4, 5, 8)                        # (N, h, L, d_k)
>>> tuple(scaled_dot_product_attention(q, k, v, mask=causal_mask(5)).shape)
(2, 4, 5, 8)
>>> padding_mask(torch.tensor([[7, 9, 0]])).tolist()           # 0 is <pad>
[[[[True, True, False]]]]
>>> causal_mask(2, 3).int().tolist()                          # the last 2 of 3 positions query
[[1, 1, 0], [1, 1, 1]]
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, DataError
from ..seq.vocab import PAD


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, *, mask: Tensor | None = None,
                                 dropout_p: float = 0.0, scale: float | None = None) -> Tensor:
    """softmax(Q K^T * scale + M) V through torch's fused SDPA kernel.

    Args:
        q: (..., T, d_k); k: (..., S, d_k); v: (..., S, d_v).
        mask: boolean, True where query i may attend to key j, broadcastable to (..., T, S).
        dropout_p: dropout on the attention weights (pass 0 at evaluation). Default 0.
        scale: the factor on Q K^T. Default 1/sqrt(d_k) (Vaswani et al. 2017); 1 gives Luong's
            unscaled dot score.

    Returns:
        (..., T, d_v).
    """
    if mask is not None and mask.dtype != torch.bool:
        raise DataError(f"attention masks are boolean (True = may attend), got dtype {mask.dtype}")
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, scale=scale)


def padding_mask(tokens: Tensor, pad: int = PAD) -> Tensor:
    """Which keys are real tokens: (N, S) ids -> (N, 1, 1, S) bool, False at ``pad``."""
    if tokens.dim() != 2:
        raise DataError(f"expected token ids of shape (N, S), got {tuple(tokens.shape)}")
    return (tokens != pad)[:, None, None, :]                       # (N, 1, 1, S)


def causal_mask(T: int, S: int | None = None, *, device=None) -> Tensor:
    """Query i may see key j iff j <= i + (S - T): (T, S) bool, lower-triangular when S = T.

    With S > T the T queries are the last T of S positions (a decoder that already holds S - T
    earlier keys), so the last query sees every key.
    """
    S = T if S is None else S
    if not (isinstance(T, int) and isinstance(S, int) and 1 <= T <= S):
        raise ConfigError(f"causal_mask needs ints 1 <= T <= S, got T={T!r}, S={S!r}")
    return torch.ones(T, S, dtype=torch.bool, device=device).tril(diagonal=S - T)   # (T, S)


def sinusoidal_positions(length: int, d_model: int, *, base: float = 10000.0) -> Tensor:
    """The encodings PE(pos, 2i) = sin(pos / base^(2i/d)), PE(pos, 2i+1) = cos(pos / base^(2i/d)).

    Returns (length, d_model) float32; d_model must be even. Each pair of columns is a sinusoid
    of wavelength 2 pi base^(2i/d), so PE(pos + k) is a fixed linear map (a rotation per pair)
    of PE(pos) (Vaswani et al. 2017, section 3.5).
    """
    if not isinstance(d_model, int) or d_model < 2 or d_model % 2:
        raise ConfigError(f"sinusoidal positions need an even d_model >= 2, got {d_model!r}")
    if not isinstance(length, int) or length < 1:
        raise ConfigError(f"length must be an int >= 1, got {length!r}")
    pos = torch.arange(length, dtype=torch.float64)[:, None]                        # (L, 1)
    inv_freq = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)   # (d/2,)
    angle = pos * inv_freq                                                          # (L, d/2)
    pe = torch.stack([angle.sin(), angle.cos()], dim=-1).reshape(length, d_model)    # sin, cos interleaved
    return pe.float()


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal encodings to (N, L, d) inputs, starting at position ``offset``.

    Args:
        d_model: d (even).
        max_len: longest sequence supported. Default 512.
    """

    def __init__(self, d_model: int, max_len: int = 512):
        super().__init__()
        self.register_buffer("pe", sinusoidal_positions(max_len, d_model), persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        L = x.shape[1]
        if offset + L > self.pe.shape[0]:
            raise DataError(f"positions up to {offset + L} asked, but max_len is {self.pe.shape[0]}")
        return x + self.pe[offset:offset + L].to(x.dtype)                          # (N, L, d)


def split_heads(x: Tensor, h: int) -> Tensor:
    """(N, L, h * d_k) -> (N, h, L, d_k)."""
    N, L, D = x.shape
    return x.view(N, L, h, D // h).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(N, h, L, d_k) -> (N, L, h * d_k)."""
    N, h, L, d_k = x.shape
    return x.transpose(1, 2).reshape(N, L, h * d_k)


class MultiHeadAttention(nn.Module):
    """h heads of scaled dot-product attention with projections W^Q, W^K, W^V, W^O (d x d each).

    ``forward(query, key, value, mask=...)`` takes (N, T, d), (N, S, d), (N, S, d) and returns
    (N, T, d). For incremental decoding, :meth:`project_kv` turns keys and values into heads once
    and :meth:`attend` takes them (a cache of earlier steps, or the encoder memory).

    Args:
        d_model: d, divisible by ``n_heads``.
        n_heads: h. d_k = d_v = d / h.
        dropout: on the attention weights while training. Default 0.
        bias: biases on the four projections. Default True.

    Layout: ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj`` are ``nn.Linear(d, d)``; stacking the
    first three gives ``torch.nn.MultiheadAttention``'s ``in_proj_weight`` (3d, d).
    """

    def __init__(self, d_model: int, n_heads: int, *, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if not (isinstance(d_model, int) and isinstance(n_heads, int) and n_heads >= 1
                and d_model >= 1 and d_model % n_heads == 0):
            raise ConfigError(f"d_model must be a positive multiple of n_heads, got d_model={d_model!r}, "
                              f"n_heads={n_heads!r}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {dropout!r}")
        self.d_model, self.n_heads, self.dropout = d_model, n_heads, dropout
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (
            nn.Linear(d_model, d_model, bias=bias) for _ in range(4))

    def project_kv(self, key: Tensor, value: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Keys and values as heads: (N, S, d) -> K, V (N, h, S, d_k). ``value`` defaults to ``key``."""
        value = key if value is None else value
        return split_heads(self.k_proj(key), self.n_heads), split_heads(self.v_proj(value), self.n_heads)

    def attend(self, query: Tensor, K: Tensor, V: Tensor, mask: Tensor | None = None) -> Tensor:
        """Queries (N, T, d) against projected heads K, V (N, h, S, d_k) -> (N, T, d)."""
        Q = split_heads(self.q_proj(query), self.n_heads)                          # (N, h, T, d_k)
        p = self.dropout if self.training else 0.0
        out = scaled_dot_product_attention(Q, K, V, mask=mask, dropout_p=p)        # (N, h, T, d_k)
        return self.out_proj(merge_heads(out))                                     # (N, T, d)

    def forward(self, query: Tensor, key: Tensor, value: Tensor | None = None, *,
                mask: Tensor | None = None) -> Tensor:
        for name, x in (("query", query), ("key", key)):
            if x.dim() != 3 or x.shape[-1] != self.d_model:
                raise DataError(f"expected {name} of shape (N, L, {self.d_model}), got {tuple(x.shape)}")
        K, V = self.project_kv(key, value)
        return self.attend(query, K, V, mask)
