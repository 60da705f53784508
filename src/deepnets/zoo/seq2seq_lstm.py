"""An LSTM encoder-decoder with Luong's global "general" attention.

The encoder is a bidirectional LSTM over the source: h_s = [h_s(forward); h_s(backward)]. The
decoder LSTM reads the previous target token; at each step t its state z_t attends over all
source positions s (Luong, Pham & Manning 2015, section 3.1, the "general" score):

    score(z_t, h_s) = z_t^T W_a h_s
    a_t(s)  = softmax_s(score(z_t, h_s))            (padded source positions masked out)
    ctx_t   = sum_s a_t(s) h_s
    zt~_t   = tanh(W_c [ctx_t; z_t])                (the "attentional hidden state")
    p(y_t | y_<t, x) = softmax(W_s zt~_t)

The score is computed as attention with queries z_t, keys W_a h_s, values h_s and scale 1,
through the same SDPA call as the Transformer (:func:`~deepnets.nn.attention.scaled_dot_product_attention`).
Luong's "input feeding" (section 3.3: zt~_{t-1} joins the next input) is left out, so during
teacher forcing the decoder LSTM runs over all target positions in one fused call.

The decoder starts from z_0 = tanh(W_init [h_{|x|}(forward); h_1(backward)]) in every layer
(Bahdanau et al. 2015 start from the backward state alone) and c_0 = 0. The backward direction
reads each row reversed within its own length, so padding after a sequence never reaches a
real position's state, and padded positions are masked out of the attention: a batch gives the
same outputs as each row alone.

Interface (as :class:`~deepnets.zoo.transformer.Transformer`): ``forward(src, tgt_in) -> logits
(N, T, V)``; ``init_state(src) -> state``; ``step(prefix, state) -> (logits (B, V), state)``,
reading only ``prefix[:, -1]``; every tensor of the state has the batch first.

References: Luong, Pham & Manning (2015), "Effective approaches to attention-based neural
machine translation", EMNLP; Bahdanau, Cho & Bengio (2015), "Neural machine translation by
jointly learning to align and translate", ICLR; Sutskever, Vinyals & Le (2014), NeurIPS.

>>> model = LSTMSeq2Seq(12, 30, embed_size=8, hidden_size=16)
>>> tuple(model(torch.randint(4, 12, (3, 5)), torch.randint(4, 30, (3, 7))).shape)
(3, 7, 30)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError, DataError
from ..nn.attention import padding_mask, scaled_dot_product_attention
from ..nn.recurrent.lstm import LSTM
from ..seq.vocab import PAD


def reverse_padded(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each row of (N, S, ...) within its first ``lengths[n]`` positions; padding stays put.

    Applying it twice gives x back.
    """
    S = x.shape[1]
    s = torch.arange(S, device=x.device)[None, :]                      # (1, S)
    L = lengths[:, None]                                                # (N, 1)
    idx = torch.where(s < L, L - 1 - s, s)                              # (N, S)
    idx = idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, idx)


class LSTMSeq2Seq(nn.Module):
    """Bidirectional LSTM encoder, LSTM decoder with Luong general attention, ``step`` decoding.

    Args:
        src_vocab_size, tgt_vocab_size: V_src, V_tgt (``<pad>`` = 0).
        embed_size: E, both embeddings. Default 64.
        hidden_size: H of the decoder; each encoder direction has H // 2. Default 128.
        num_layers: decoder layers D (the encoder has one per direction). Default 1.
        dropout: on embeddings and on zt~_t while training. Default 0.1.
        peepholes: use the lecture's peephole LSTM cells. Default False.
        pad: the padding id. Default 0.
        generator: seeds the initialisation.
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, *, embed_size: int = 64,
                 hidden_size: int = 128, num_layers: int = 1, dropout: float = 0.1,
                 peepholes: bool = False, pad: int = PAD, generator: torch.Generator | None = None):
        super().__init__()
        for name, value in (("src_vocab_size", src_vocab_size), ("tgt_vocab_size", tgt_vocab_size),
                            ("embed_size", embed_size), ("num_layers", num_layers)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(hidden_size, int) or hidden_size < 2 or hidden_size % 2:
            raise ConfigError(f"hidden_size must be an even int >= 2, got {hidden_size!r}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {dropout!r}")
        H, D, E = hidden_size, num_layers, embed_size
        self.hidden_size, self.num_layers, self.pad = H, D, pad
        self.src_embed = nn.Embedding(src_vocab_size, E, padding_idx=pad)
        self.tgt_embed = nn.Embedding(tgt_vocab_size, E, padding_idx=pad)
        kw = dict(batch_first=True, peepholes=peepholes, forget_bias=1.0, generator=generator)
        self.enc_fwd, self.enc_bwd = LSTM(E, H // 2, **kw), LSTM(E, H // 2, **kw)
        self.decoder = LSTM(E, H, D, dropout=dropout, **kw)
        self.init_proj = nn.Linear(H, D * H)                            # W_init
        self.W_a = nn.Linear(H, H, bias=False)                          # score z^T W_a h
        self.W_c = nn.Linear(2 * H, H)                                  # tanh(W_c [ctx; z])
        self.out = nn.Linear(H, tgt_vocab_size)                         # W_s
        self.drop = nn.Dropout(dropout)
        with torch.no_grad():
            for module in (self.src_embed, self.tgt_embed):
                module.weight.normal_(0.0, 1.0, generator=generator)
                module.weight[pad] = 0.0
            for lin in (self.init_proj, self.W_a, self.W_c, self.out):
                r = lin.in_features ** -0.5
                lin.weight.uniform_(-r, r, generator=generator)
                if lin.bias is not None:
                    lin.bias.zero_()

    def encode(self, src: Tensor) -> dict:
        """Memory h_s (N, S, H), keys W_a h_s (N, S, H), mask (N, 1, S) and z_0, c_0 (N, D, H)."""
        if src.dim() != 2:
            raise DataError(f"expected source ids of shape (N, S), got {tuple(src.shape)}")
        lengths = (src != self.pad).sum(1)                              # (N,)
        if bool((lengths == 0).any()):
            raise DataError("every source row needs at least one token that is not <pad>")
        x = self.drop(self.src_embed(src))                              # (N, S, E)
        h_f, _ = self.enc_fwd(x)                                        # (N, S, H/2)
        h_b = reverse_padded(self.enc_bwd(reverse_padded(x, lengths))[0], lengths)
        memory = torch.cat([h_f, h_b], dim=2)                           # (N, S, H)
        last = h_f.gather(1, (lengths - 1).view(-1, 1, 1).expand(-1, 1, h_f.shape[2]))[:, 0]
        z0 = torch.tanh(self.init_proj(torch.cat([last, h_b[:, 0]], dim=1)))   # (N, D*H)
        z0 = z0.view(-1, self.num_layers, self.hidden_size)             # (N, D, H)
        return {"memory": memory, "keys": self.W_a(memory), "mask": padding_mask(src, self.pad)[:, 0],
                "z": z0, "c": torch.zeros_like(z0)}

    def _attend(self, z: Tensor, state: dict) -> Tensor:
        """Decoder states (N, T, H) -> logits (N, T, V) through the attentional hidden state."""
        ctx = scaled_dot_product_attention(z, state["keys"], state["memory"], mask=state["mask"],
                                           scale=1.0)                   # (N, T, H)
        zt = torch.tanh(self.W_c(torch.cat([ctx, z], dim=2)))           # (N, T, H)
        return self.out(self.drop(zt))                                  # (N, T, V)

    def _decode(self, tgt_in: Tensor, state: dict) -> tuple[Tensor, Tensor, Tensor]:
        y = self.drop(self.tgt_embed(tgt_in))                           # (N, T, E)
        z0, c0 = state["z"].transpose(0, 1).contiguous(), state["c"].transpose(0, 1).contiguous()
        z, (zT, cT) = self.decoder(y, (z0, c0))                         # (N, T, H), (D, N, H) x 2
        return self._attend(z, state), zT.transpose(0, 1), cT.transpose(0, 1)

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher-forced logits (N, T, V_tgt) of the next target token at every position."""
        if tgt_in.dim() != 2 or tgt_in.shape[0] != src.shape[0]:
            raise DataError(f"expected tgt_in (N, T) with N = {src.shape[0]}, got {tuple(tgt_in.shape)}")
        return self._decode(tgt_in, self.encode(src))[0]

    def init_state(self, src: Tensor) -> dict:
        """Encode ``src`` once: the decoder state (batch first) for :meth:`step`."""
        return self.encode(src)

    def step(self, prefix: Tensor, state: dict) -> tuple[Tensor, dict]:
        """Logits (B, V) for the token after ``prefix`` (B, t); reads ``prefix[:, -1]`` only."""
        logits, z, c = self._decode(prefix[:, -1:], state)
        return logits[:, 0], {**state, "z": z, "c": c}
