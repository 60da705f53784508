"""Attention: SDPA against the written-out formula, masks against loops, heads against torch."""

import math

import pytest
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.nn.attention import (MultiHeadAttention, PositionalEncoding, causal_mask, merge_heads,
                                   padding_mask, scaled_dot_product_attention, sinusoidal_positions,
                                   split_heads)

D64 = torch.float64


def reference_attention(q, k, v, keep=None, scale=None):
    """softmax(Q K^T * scale + M) V with M = 0 where keep, -inf elsewhere, written out."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ k.transpose(-2, -1) * scale
    if keep is not None:
        scores = scores + torch.zeros_like(scores).masked_fill(~keep, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


@pytest.mark.parametrize("scale", [None, 1.0])
def test_sdpa_equals_the_formula_with_padding_and_causal_masks(scale):
    g = torch.Generator().manual_seed(0)
    N, h, T, S, d = 3, 2, 4, 6, 5
    q = torch.randn(N, h, T, d, generator=g, dtype=D64)
    k = torch.randn(N, h, S, d, generator=g, dtype=D64)
    v = torch.randn(N, h, S, 7, generator=g, dtype=D64)
    tokens = torch.tensor([[5, 6, 7, 8, 9, 4], [5, 6, 7, 0, 0, 0], [9, 0, 0, 0, 0, 0]])
    keep = padding_mask(tokens) & causal_mask(T, S)                     # (N, 1, T, S)
    ours = scaled_dot_product_attention(q, k, v, mask=keep, scale=scale)
    torch.testing.assert_close(ours, reference_attention(q, k, v, keep.expand(N, h, T, S), scale))
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v), reference_attention(q, k, v))


def test_masks_equal_brute_force_loops():
    tokens = torch.tensor([[4, 5, 0, 0], [0, 7, 0, 9]])
    pm = padding_mask(tokens)
    assert pm.shape == (2, 1, 1, 4)
    for n in range(2):
        for j in range(4):
            assert bool(pm[n, 0, 0, j]) == (int(tokens[n, j]) != 0)
    for T, S in [(1, 1), (3, 3), (2, 5), (5, 5)]:
        cm = causal_mask(T, S)
        assert cm.shape == (T, S)
        for i in range(T):
            for j in range(S):
                assert bool(cm[i, j]) == (j <= i + S - T)      # query i is position i + S - T


def test_mask_errors():
    with pytest.raises(ConfigError):
        causal_mask(4, 3)
    with pytest.raises(DataError):
        padding_mask(torch.zeros(2, 3, 4, dtype=torch.long))
    with pytest.raises(DataError):
        scaled_dot_product_attention(torch.ones(1, 2, 3), torch.ones(1, 2, 3), torch.ones(1, 2, 3),
                                     mask=torch.ones(2, 2))


def test_sinusoidal_positions_equal_the_formula_term_by_term():
    L, d = 7, 6
    pe = sinusoidal_positions(L, d)
    for pos in range(L):
        for i in range(d // 2):
            w = pos / 10000 ** (2 * i / d)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(w), abs=1e-6)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(w), abs=1e-6)
    x = torch.zeros(2, 3, d)
    torch.testing.assert_close(PositionalEncoding(d, 16)(x, offset=4), pe[4:7].expand(2, 3, d))
    with pytest.raises(ConfigError):
        sinusoidal_positions(4, 5)
    with pytest.raises(DataError):
        PositionalEncoding(d, 4)(x, offset=2)


def test_split_and_merge_heads_are_inverse():
    x = torch.randn(2, 5, 12)
    assert split_heads(x, 3).shape == (2, 3, 5, 4)
    torch.testing.assert_close(merge_heads(split_heads(x, 3)), x)


@pytest.mark.parametrize("masked", [False, True])
def test_multihead_equals_torch_multihead_attention_with_the_same_weights(masked):
    torch.manual_seed(0)
    N, T, S, d, h = 3, 4, 5, 8, 2
    ours = MultiHeadAttention(d, h).double()
    theirs = torch.nn.MultiheadAttention(d, h, batch_first=True).double()
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        theirs.out_proj.weight.copy_(ours.out_proj.weight)
        theirs.out_proj.bias.copy_(ours.out_proj.bias)
    q = torch.randn(N, T, d, dtype=D64)
    kv = torch.randn(N, S, d, dtype=D64)
    tokens = torch.tensor([[4, 4, 4, 4, 4], [4, 4, 0, 0, 0], [4, 0, 0, 0, 0]])
    if masked:
        keep = padding_mask(tokens) & causal_mask(T, S)
        # torch's masks say where NOT to attend
        expected, _ = theirs(q, kv, kv, key_padding_mask=tokens == 0, attn_mask=~causal_mask(T, S))
    else:
        keep = None
        expected, _ = theirs(q, kv, kv)
    torch.testing.assert_close(ours(q, kv, kv, mask=keep), expected)


def test_multihead_errors():
    with pytest.raises(ConfigError):
        MultiHeadAttention(10, 3)
    with pytest.raises(DataError):
        MultiHeadAttention(8, 2)(torch.ones(2, 3, 4), torch.ones(2, 3, 4))
