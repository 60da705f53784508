"""Many-to-one classification of variable-length token sequences, padding-aware.

A batch pads short sequences at the end to the longest length L_max. The class scores must come
from each sequence's own last real state z_{l_n} (l_n its length), not from z_{L_max}, which has
read l_n < L_max padding tokens as well:

    e_t = E[x_t],   z_t = f_W(z_{t-1}, e_t),   y_n = W_yz z_{l_n} + b_y.

Because the recurrence is causal, the states up to t = l_n do not see the padding that follows,
so reading z_{l_n} off the padded run equals running sequence n alone (:func:`last_step`); this
costs the wasted steps on padding but needs no packing. Reference: the lecture's many-to-one
recurrent network ("sentiment classification"); Graves (2012), "Supervised sequence labelling with
recurrent neural networks", ch. 3.

>>> out = torch.arange(12.).view(2, 3, 2)        # (N=2, L=3, H=2)
>>> last_step(out, torch.tensor([3, 1])).tolist()
[[4.0, 5.0], [6.0, 7.0]]
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..errors import DataError
from ..nn.recurrent import build_core
from ..nn.recurrent.base import check_sizes
from ..seq.vocab import PAD


def last_step(outputs: Tensor, lengths: Tensor) -> Tensor:
    """The output at each row's last real step: outputs (N, L, H), lengths (N,) in 1..L -> (N, H)."""
    N, L = outputs.shape[:2]
    if lengths.shape != (N,) or lengths.dtype != torch.long:
        raise DataError(f"expected int64 lengths of shape ({N},), got {lengths.dtype} {tuple(lengths.shape)}")
    if bool((lengths < 1).any()) or bool((lengths > L).any()):
        raise DataError(f"lengths must lie in 1..{L}, got min {int(lengths.min())}, max {int(lengths.max())}")
    index = (lengths - 1).to(outputs.device).view(N, 1, 1).expand(N, 1, outputs.shape[2])   # (N, 1, H)
    return outputs.gather(1, index).squeeze(1)                                 # (N, H)


class TextClassifier(nn.Module):
    """Embedding (``<pad>`` row zero) -> recurrent core -> last real state -> class scores.

    ``forward(ids (N, L), lengths (N,)) -> logits (N, C)``; padding must be at the end of rows.

    Args:
        vocab_size: V (specials included).
        n_classes: C.
        embed_size: embedding size. Default 32.
        hidden_size: H. Default 64.
        num_layers: D. Default 1.
        cell: a name in :data:`~deepnets.nn.recurrent.CORES`. Default ``"lstm"``.
        generator: seeds every initial weight; None uses torch's global stream.
    """

    def __init__(self, vocab_size: int, n_classes: int, *, embed_size: int = 32,
                 hidden_size: int = 64, num_layers: int = 1, cell: str = "lstm",
                 generator: torch.Generator | None = None):
        super().__init__()
        check_sizes(vocab_size=vocab_size, n_classes=n_classes, embed_size=embed_size)
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=PAD)
        self.core = build_core(cell, embed_size, hidden_size, num_layers, generator=generator)
        self.readout = nn.Linear(hidden_size, n_classes)      # W_yz, b_y
        if generator is not None:
            r = 1.0 / math.sqrt(hidden_size)
            with torch.no_grad():
                self.embed.weight.normal_(generator=generator)
                self.readout.weight.uniform_(-r, r, generator=generator)
                self.readout.bias.uniform_(-r, r, generator=generator)
        with torch.no_grad():
            self.embed.weight[PAD].zero_()

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise DataError(f"expected int64 token ids (N, L), got {ids.dtype} {tuple(ids.shape)}")
        z, _ = self.core(self.embed(ids))                 # (N, L, H)
        return self.readout(last_step(z, lengths))        # (N, H) -> (N, C)
