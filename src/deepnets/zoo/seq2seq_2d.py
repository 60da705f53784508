"""The 2-D convolutional sequence-to-sequence network ("Pervasive Attention").

There is no encoder and no decoder: the source x_1..x_S and the shifted target y_0..y_{T-1}
(y_0 = <bos>) are embedded and every pair is concatenated into one cell of a grid,

    X[:, t, s] = [E_y y_t ; E_x x_s]                          X in R^{(d_t + d_s) x T x S}

and a DenseNet of 2-D convolutions re-encodes each source token in the context of the target
prefix. Layer l of a dense block maps the concatenation of every earlier output,

    H^l = W_k^l * relu(norm(W_1^l relu(norm([X, H^1, ..., H^{l-1}]))))      (g new channels)

with W_1 a 1x1 "bottleneck" convolution (4g channels) and W_k a k x k convolution that is
*causal along the target axis*: its taps at target offsets > 0 are zero, so H[:, t, s] sees
y_0..y_t only, while it sees source offsets -k//2..k//2 on both sides. Blocks are joined by
1x1 transitions that halve the channels. The last features are pooled over the source axis,

    max:        h_t = max_s H[:, t, s]
    attention:  rho_ts = softmax_s(w^T H[:, t, s] + b),   h_t = sqrt(|x|) sum_s rho_ts H[:, t, s]

and p(y_{t+1} | y_<=t, x) = softmax(W_o h_t + b_o). Only the k x k convolutions and the
pooling mix cells (norms and 1x1 layers act on each cell alone), so padded source cells are set
to zero at the input of every k x k convolution (exactly what its own zero padding shows at the
border) and left out of the pooling: appending <pad> to a source changes no output.

Receptive field with L causal k x k convolutions (1x1 layers do not widen it):
1 + L * (k // 2) target rows (the current one and L*(k//2) before it) and 1 + 2 L (k // 2)
source columns. :meth:`Pervasive2d.step` decodes incrementally: it keeps, per dense layer, the
k // 2 bottleneck rows above the current one and computes one new grid row per token.

Choices of this implementation, where the paper may differ: the normalisation is a layer norm
over the channels of each cell, not batch normalisation, so no statistic mixes cells, rows of a
batch or padded positions (causality and padding invariance hold in training mode too); the
attention pooling weighs the last features H; there are no position embeddings and the output
layer is not tied to the target embeddings; sizes default to a small model for CPU work.

>>> net = Pervasive2d(14, 20, embed=8, growth=4, blocks=(2, 2), generator=torch.Generator().manual_seed(0))
>>> net(torch.tensor([[5, 6, 7]]), torch.tensor([[1, 9, 10, 11]])).shape
torch.Size([1, 4, 20])
>>> net.receptive_field     # (target rows, source columns): 4 causal 3x3 layers
(5, 9)

Reference: Elbayad, Besacier & Verbeek (2018), "Pervasive Attention: 2D Convolutional Neural
Networks for Sequence-to-Sequence Prediction", CoNLL, arXiv:1808.03867; Huang, Liu, van der
Maaten & Weinberger (2017), "Densely connected convolutional networks" (DenseNet).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, DataError
from ..seq.vocab import PAD

__all__ = ["Pervasive2d", "CausalConv2d", "causal_conv2d", "channel_norm", "SOURCE_POOLS"]


def causal_conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """A 2-D convolution causal along the first spatial (target) axis, "same" along the second.

        y[n, o, t, s] = b_o + sum_c sum_{i=-p..0} sum_{j=-p..p} W[o, c, p + i, p + j] x[n, c, t + i, s + j]

    with p = k // 2 and x = 0 outside the grid. This is the k x k convolution whose taps at
    future target offsets (i > 0) are masked to zero, stored without those taps: ``weight``
    is (C_out, C_in, p + 1, k), row p being the current target step.

    Args:
        x: (N, C_in, T, S).
        weight: (C_out, C_in, k // 2 + 1, k), k odd.
        bias: (C_out,) or None.
    """
    p = weight.shape[-1] // 2
    x = F.pad(x, (p, p, p, 0))                   # (N, C_in, T + p, S + 2p): past rows, both sides
    return F.conv2d(x, weight, bias)             # (N, C_out, T, S)


def channel_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the channels of each grid cell on its own.

        y[:, c, t, s] = gamma_c (x[:, c, t, s] - mu_ts) / sqrt(sigma^2_ts + eps) + beta_c

    with mu_ts, sigma^2_ts the mean and (biased) variance over c. Unlike batch normalisation it
    mixes no cells, so it cannot leak future targets or padded sources into a cell.
    """
    mu = x.mean(dim=1, keepdim=True)                                  # (N, 1, T, S)
    var = x.var(dim=1, unbiased=False, keepdim=True)                  # (N, 1, T, S)
    return (x - mu) * torch.rsqrt(var + eps) * weight[:, None, None] + bias[:, None, None]


class ChannelNorm(nn.Module):
    """:func:`channel_norm` with learned gamma (ones) and beta (zeros)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        return channel_norm(x, self.weight, self.bias)


class CausalConv2d(nn.Module):
    """A k x k convolution masked to past and current target rows (:func:`causal_conv2d`).

    Args:
        in_channels, out_channels: C_in, C_out.
        kernel_size: k, odd. Default 3.
        bias: learn b. Default True.
        generator: for the He-uniform initialisation U(-sqrt(6 / fan_in), +), fan_in counting
            the unmasked taps; zero bias.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, *, bias: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__()
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size must be an odd positive int, got {kernel_size!r}")
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size // 2 + 1, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        bound = math.sqrt(6.0 / self.weight[0].numel())
        with torch.no_grad():
            self.weight.uniform_(-bound, bound, generator=generator)

    def full_weight(self) -> Tensor:
        """The equivalent k x k kernel (C_out, C_in, k, k) with the future-target rows zeroed."""
        p = self.kernel_size // 2
        return F.pad(self.weight, (0, 0, 0, p))

    def forward(self, x: Tensor) -> Tensor:
        return causal_conv2d(x, self.weight, self.bias)


class DenseLayer(nn.Module):
    """norm-ReLU-1x1 (bottleneck) then norm-ReLU-causal k x k: g new channels per cell."""

    def __init__(self, in_channels: int, growth: int, bottleneck: int, kernel_size: int, dropout: float):
        super().__init__()
        self.norm1 = ChannelNorm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, bottleneck, 1)
        self.norm2 = ChannelNorm(bottleneck)
        self.conv2 = CausalConv2d(bottleneck, growth, kernel_size)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, keep: Tensor, past: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """New features (N, g, T, S) of the rows x (N, C, T, S).

        ``past`` (N, 4g, k // 2, S), the bottleneck rows just above x (zeros above row 0, as the
        causal padding), makes this a continuation: it then also returns the last k // 2 rows
        of [past; bottleneck(x)] for the next call. Without it, x starts at row 0.
        """
        h = self.conv1(F.relu(self.norm1(x)))                 # (N, 4g, T, S), per cell
        h = F.relu(self.norm2(h)) * keep                      # padded sources -> 0: the only mixing
        if past is None:
            return self.drop(self.conv2(h)), None             # (N, g, T, S)
        window = torch.cat([past, h], dim=2)                  # (N, 4g, p + T, S)
        p = self.conv2.kernel_size // 2
        out = F.conv2d(F.pad(window, (p, p, 0, 0)), self.conv2.weight, self.conv2.bias)   # (N, g, T, S)
        return self.drop(out), window[:, :, window.shape[2] - p:]


class Transition(nn.Module):
    """norm-ReLU-1x1 convolution to ``out_channels`` between dense blocks."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm = ChannelNorm(in_channels)
        self.conv = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.relu(self.norm(x)))


def max_pool(H: Tensor, keep: Tensor, score: Tensor | None) -> Tensor:
    """h_t = max over the real source cells s of H[:, t, s]: (N, C, T, S) -> (N, C, T)."""
    return H.masked_fill(~keep, float("-inf")).amax(dim=-1)


def attention_pool(H: Tensor, keep: Tensor, score: Tensor | None) -> Tensor:
    """h_t = sqrt(|x|) sum_s softmax_s(score_ts) H[:, t, s] over real source cells: (N, C, T)."""
    rho = torch.softmax(score.masked_fill(~keep, float("-inf")), dim=-1)     # (N, 1, T, S)
    length = keep.sum(dim=-1, keepdim=True).to(H.dtype)                      # (N, 1, 1, 1)
    return (rho * H).sum(dim=-1) * length[..., 0].sqrt()                      # (N, C, T)


#: aggregations over the source axis; each takes (H, keep mask, attention score or None)
SOURCE_POOLS: dict[str, Callable[[Tensor, Tensor, Tensor | None], Tensor]] = {
    "max": max_pool,
    "attention": attention_pool,
}


class Pervasive2d(nn.Module):
    """The 2-D convolutional seq2seq network: a causal DenseNet over the target x source grid.

    ``forward(src (N, S), tgt_in (N, T)) -> logits (N, T, V)`` where ``tgt_in`` is the target
    shifted right (<bos> first) and logits[:, t] score y_{t+1}. ``step(prefix, state)`` with
    ``state = init_state(src)`` plugs into :func:`deepnets.seq.greedy_decode` and
    :func:`deepnets.seq.beam_search`.

    Args:
        src_vocab, tgt_vocab: vocabulary sizes (V = ``tgt_vocab``).
        embed: d_s = d_t, the width of each embedding. Default 64.
        growth: g, channels each dense layer adds. Default 32.
        bottleneck: the 1x1 layer's width as a multiple of g. Default 4.
        blocks: dense layers per block, a transition halving the channels between blocks.
            Default (4, 4).
        kernel_size: k, odd. Default 3.
        pool: source aggregation, a key of :data:`SOURCE_POOLS`. Default "max".
        dropout: on the dense layers' outputs and before the output layer. Default 0.
        pad: the <pad> id in both vocabularies. Default 0.
        generator: for the initialisation (He-uniform convolutions, N(0, d^-1) embeddings).
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, *, embed: int = 64, growth: int = 32,
                 bottleneck: int = 4, blocks: tuple[int, ...] = (4, 4), kernel_size: int = 3,
                 pool: str = "max", dropout: float = 0.0, pad: int = PAD,
                 generator: torch.Generator | None = None):
        super().__init__()
        blocks = tuple(blocks)
        for name, v in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab), ("embed", embed),
                        ("growth", growth), ("bottleneck", bottleneck), *(("blocks", b) for b in blocks)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"Pervasive2d {name} must be a positive int, got {v!r}")
        if not blocks:
            raise ConfigError("Pervasive2d blocks must list at least one dense block, got ()")
        if pool not in SOURCE_POOLS:
            raise ConfigError(f"unknown pool {pool!r}: expected one of {sorted(SOURCE_POOLS)}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout!r}")
        self.src_vocab, self.tgt_vocab, self.pad = src_vocab, tgt_vocab, pad
        self.kernel_size, self.depth, self.pool = kernel_size, sum(blocks), pool
        self.src_embed = nn.Embedding(src_vocab, embed, padding_idx=pad)
        self.tgt_embed = nn.Embedding(tgt_vocab, embed, padding_idx=pad)
        self.layers = nn.ModuleList()
        C = 2 * embed
        for b, n_layers in enumerate(blocks):
            if b > 0:
                self.layers.append(Transition(C, C // 2))
                C //= 2
            for _ in range(n_layers):
                self.layers.append(DenseLayer(C, growth, bottleneck * growth, kernel_size, dropout))
                C += growth
        self.channels = C
        self.norm = ChannelNorm(C)
        self.score = nn.Conv2d(C, 1, 1) if pool == "attention" else None
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(C, tgt_vocab)
        self.reset_parameters(generator)

    @property
    def receptive_field(self) -> tuple[int, int]:
        """(target rows, source columns) that reach one output: 1 + L p, 1 + 2 L p with p = k // 2."""
        p = self.kernel_size // 2
        return 1 + self.depth * p, 1 + 2 * self.depth * p

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """He-uniform U(-sqrt(6 / fan_in), +) weights, zero biases, unit norms, N(0, 1/d) embeddings."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear, CausalConv2d)):
                fan_in = m.weight[0].numel()
                bound = math.sqrt(6.0 / fan_in) if m is not self.out else math.sqrt(1.0 / fan_in)
                m.weight.uniform_(-bound, bound, generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, ChannelNorm):
                m.weight.fill_(1.0)
                m.bias.zero_()
            elif isinstance(m, nn.Embedding):
                m.weight.normal_(0.0, m.embedding_dim ** -0.5, generator=generator)
                m.weight[self.pad].zero_()

    def _check(self, src: Tensor, tgt_in: Tensor | None = None) -> None:
        for name, x, V in (("src", src, self.src_vocab), ("tgt_in", tgt_in, self.tgt_vocab)):
            if name == "tgt_in" and x is None:
                continue
            if not isinstance(x, Tensor) or x.dim() != 2 or x.dtype != torch.long:
                got = f"{tuple(x.shape)} {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
                raise DataError(f"{name} must be an int64 tensor (N, length), got {got}")
            if x.numel() and (int(x.min()) < 0 or int(x.max()) >= V):
                raise DataError(f"{name} ids must lie in [0, {V}), got [{int(x.min())}, {int(x.max())}]")
        if tgt_in is not None and src.shape[0] != tgt_in.shape[0]:
            raise DataError(f"src and tgt_in must have the same batch size, got {src.shape[0]} and {tgt_in.shape[0]}")
        if src.shape[1] == 0 or bool((src != self.pad).sum(dim=1).eq(0).any()):
            raise DataError("every source row needs at least one token that is not <pad>")

    def grid(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """The last DenseNet features H (N, C, T, S) of every (target, source) cell, before pooling."""
        self._check(src, tgt_in)
        return self._grid(src, tgt_in, None)[0]

    def _grid(self, src: Tensor, tgt_in: Tensor, past: list[Tensor] | None) -> tuple[Tensor, list[Tensor] | None]:
        S, T = src.shape[1], tgt_in.shape[1]
        keep = (src != self.pad)[:, None, None, :]                            # (N, 1, 1, S)
        x_s = self.src_embed(src).transpose(1, 2)[:, :, None, :]              # (N, d, 1, S)
        y_t = self.tgt_embed(tgt_in).transpose(1, 2)[:, :, :, None]           # (N, d, T, 1)
        H = torch.cat([y_t.expand(-1, -1, T, S), x_s.expand(-1, -1, T, S)], dim=1)   # (N, 2d, T, S)
        rows = iter(past) if past is not None else None
        new_past = [] if past is not None else None
        for layer in self.layers:
            if isinstance(layer, DenseLayer):
                out, last = layer(H, keep, next(rows) if rows is not None else None)
                H = torch.cat([H, out], dim=1)                                # (N, C + g, T, S)
                if new_past is not None:
                    new_past.append(last)
            else:
                H = layer(H)                                                  # (N, C / 2, T, S)
        return F.relu(self.norm(H)), new_past                                 # (N, C, T, S)

    def _logits(self, src: Tensor, H: Tensor) -> Tensor:
        keep = (src != self.pad)[:, None, None, :]                            # (N, 1, 1, S)
        score = self.score(H) if self.score is not None else None            # (N, 1, T, S)
        h = SOURCE_POOLS[self.pool](H, keep, score).transpose(1, 2)           # (N, T, C)
        return self.out(self.drop(h))                                         # (N, T, V)

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        return self._logits(src, self.grid(src, tgt_in))                      # (N, T, V)

    def init_state(self, src: Tensor) -> dict:
        """The state :meth:`step` starts from, B rows along dim 0 of every tensor.

        ``src`` (B, S); ``length`` (B,) rows decoded so far; ``past``: per dense layer the
        bottleneck features of the last k // 2 rows (B, 4g, k // 2, S), zeros before row 0.
        """
        self._check(src)
        B, S = src.shape
        past = [src.new_zeros((B, layer.conv1.out_channels, self.kernel_size // 2, S), dtype=self.out.weight.dtype)
                for layer in self.layers if isinstance(layer, DenseLayer)]
        return {"src": src, "length": src.new_zeros(B), "past": past}

    def step(self, prefix: Tensor, state: dict) -> tuple[Tensor, dict]:
        """Logits (B, V) of the next token after ``prefix`` (B, t), for the decoders in deepnets.seq.

        Incremental: only the new row t - 1 of the grid is computed, from the cached bottleneck
        rows above it; the logits equal the teacher-forced ``forward(src, prefix)[:, -1]``.
        Each call must extend the prefix of the previous one by one token.
        """
        src, length = state["src"], state["length"]
        if prefix.dim() != 2 or bool((length != prefix.shape[1] - 1).any()):
            raise ConfigError(f"step expects a prefix one token longer than the {int(length.max())} "
                              f"already decoded, got shape {tuple(prefix.shape)}")
        self._check(src, prefix[:, -1:])
        H, past = self._grid(src, prefix[:, -1:], state["past"])               # (B, C, 1, S)
        return self._logits(src, H)[:, -1], {"src": src, "length": length + 1, "past": past}
