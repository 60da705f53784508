"""The Transformer encoder-decoder (Vaswani et al. 2017) with pre-norm residual blocks.

A stack of :class:`~deepnets.nn.transformer.EncoderLayer` reads the source, a stack of
:class:`~deepnets.nn.transformer.DecoderLayer` the target shifted right, attending to the
encoder's output m ("memory"); the layers' equations are in :mod:`deepnets.nn.transformer`.

Inputs are sqrt(d) * Embedding(token) + PE(position) (sinusoidal, section 3.5), and the
logits are W_out LN(y). Target positions after ``<eos>`` need no mask of their own: causality
keeps them out of every earlier position, and the loss ignores them.

The seq2seq interface (shared with :class:`~deepnets.zoo.seq2seq_lstm.LSTMSeq2Seq`, used by
:mod:`deepnets.train.seq2seq`):

- ``forward(src (N, S), tgt_in (N, T)) -> logits (N, T, V_tgt)``: teacher forcing; ``src``
  padded with ``<pad>`` = 0, ``tgt_in`` = ``<bos> y_1 ... y_{T-1}``.
- ``init_state(src) -> state``: encodes once; a dict of tensors with the batch first.
- ``step(prefix (B, t), state) -> (logits (B, V_tgt), state)``: the next-token scores after
  ``prefix``, for :func:`deepnets.seq.greedy_decode` and :func:`deepnets.seq.beam_search`.

The step adapter caches, per decoder layer, the self-attention keys and values of the earlier
target positions and the cross-attention keys and values of the memory, so each step costs one
position's work (with pre-norm, a position's layer inputs never change once computed).

Reference: Vaswani et al. (2017), "Attention is all you need", NeurIPS; pre-norm: Xiong et al.
(2020), "On layer normalization in the Transformer architecture", ICML.

>>> model = Transformer(12, 30, d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1)
>>> tuple(model(torch.randint(4, 12, (3, 5)), torch.randint(4, 30, (3, 7))).shape)
(3, 7, 30)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import ConfigError, DataError
from ..nn.attention import PositionalEncoding, causal_mask, padding_mask
from ..nn.transformer import DecoderLayer, EncoderLayer
from ..seq.vocab import PAD


class Transformer(nn.Module):
    """An encoder-decoder Transformer for token sequences, with greedy/beam ``step`` decoding.

    Args:
        src_vocab_size, tgt_vocab_size: V_src, V_tgt (ids 0..3 are the specials of
            :class:`~deepnets.seq.Vocab`; ``<pad>`` = 0).
        d_model: d. Default 128.
        n_heads: h. Default 4.
        n_encoder_layers, n_decoder_layers: Default 2 each.
        d_ff: inner width of the feed-forward blocks. Default 4 d.
        dropout: on embeddings, attention weights, sublayer outputs. Default 0.1.
        max_len: longest source or target supported by the positional table. Default 256.
        pad: the padding id. Default 0.
        generator: seeds the initialisation (the global RNG is left alone).
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, *, d_model: int = 128, n_heads: int = 4,
                 n_encoder_layers: int = 2, n_decoder_layers: int = 2, d_ff: int | None = None,
                 dropout: float = 0.1, max_len: int = 256, pad: int = PAD,
                 generator: torch.Generator | None = None):
        super().__init__()
        for name, value in (("src_vocab_size", src_vocab_size), ("tgt_vocab_size", tgt_vocab_size),
                            ("n_encoder_layers", n_encoder_layers), ("n_decoder_layers", n_decoder_layers)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {dropout!r}")
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.d_model, self.pad = d_model, pad
        self.src_embed = nn.Embedding(src_vocab_size, d_model, padding_idx=pad)
        self.tgt_embed = nn.Embedding(tgt_vocab_size, d_model, padding_idx=pad)
        self.positions = PositionalEncoding(d_model, max_len)
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.ModuleList(EncoderLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_decoder_layers))
        self.enc_norm, self.dec_norm = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, tgt_vocab_size)
        self._init(generator)

    @torch.no_grad()
    def _init(self, generator: torch.Generator | None) -> None:
        """Xavier-uniform matrices (Glorot & Bengio 2010), N(0, 1/d) embeddings, zero biases."""
        for name, p in self.named_parameters():
            if "norm" in name:
                continue                                   # LayerNorm: gamma = 1, beta = 0
            if name.endswith("bias"):
                p.zero_()
            elif "embed" in name:
                p.normal_(0.0, self.d_model ** -0.5, generator=generator)
                p[self.pad] = 0.0
            else:
                bound = math.sqrt(6.0 / (p.shape[0] + p.shape[1]))
                p.uniform_(-bound, bound, generator=generator)

    def _embed(self, embed: nn.Embedding, tokens: Tensor, offset: int = 0) -> Tensor:
        return self.drop(self.positions(embed(tokens) * math.sqrt(self.d_model), offset))   # (N, L, d)

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        """The memory m (N, S, d) and its key mask (N, 1, 1, S)."""
        if src.dim() != 2:
            raise DataError(f"expected source ids of shape (N, S), got {tuple(src.shape)}")
        mask = padding_mask(src, self.pad)                                 # (N, 1, 1, S)
        x = self._embed(self.src_embed, src)
        for layer in self.encoder:
            x = layer(x, mask)
        return self.enc_norm(x), mask

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits (N, T, V_tgt) of the next target token at every position."""
        if tgt_in.dim() != 2 or tgt_in.shape[0] != src.shape[0]:
            raise DataError(f"expected tgt_in (N, T) with N = {src.shape[0]}, got {tuple(tgt_in.shape)}")
        memory, src_mask = self.encode(src)
        T = tgt_in.shape[1]
        y = self._embed(self.tgt_embed, tgt_in)                            # (N, T, d)
        causal = causal_mask(T, device=src.device)                          # (T, T)
        for layer in self.decoder:
            y, _ = layer(y, layer.cross_attn.project_kv(memory), src_mask, self_mask=causal)
        return self.out(self.dec_norm(y))                                  # (N, T, V)

    def init_state(self, src: Tensor) -> dict:
        """Encode ``src`` once: the decoder state (batch first) for :meth:`step`."""
        memory, src_mask = self.encode(src)
        h = self.decoder[0].self_attn.n_heads
        empty = memory.new_zeros(src.shape[0], h, 0, self.d_model // h)
        return {"src_mask": src_mask,
                "cross": [layer.cross_attn.project_kv(memory) for layer in self.decoder],   # (N, h, S, d_k)
                "self": [(empty, empty) for _ in self.decoder]}                             # (N, h, 0, d_k)

    def step(self, prefix: Tensor, state: dict) -> tuple[Tensor, dict]:
        """Logits (B, V) for the token after ``prefix`` (B, t), reading only its last token.

        The state must have seen prefix[:, :-1] (one call per position, from ``init_state``).
        """
        t = prefix.shape[1]
        if state["self"][0][0].shape[2] != t - 1:
            raise DataError(f"the decoder state holds {state['self'][0][0].shape[2]} positions; "
                            f"a prefix of length {t} needs {t - 1}")
        y = self._embed(self.tgt_embed, prefix[:, -1:], offset=t - 1)     # (B, 1, d)
        cache = []
        for layer, kv, cross in zip(self.decoder, state["self"], state["cross"]):
            y, kv = layer(y, cross, state["src_mask"], cache=kv)           # the new query sees all t
            cache.append(kv)
        logits = self.out(self.dec_norm(y))[:, 0]                          # (B, V)
        return logits, {"src_mask": state["src_mask"], "cross": state["cross"], "self": cache}

