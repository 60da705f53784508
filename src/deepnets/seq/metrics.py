"""Scores of sequence models: bits per character of a language model, and caption scores.

Bits per character of a text x_1 .. x_n under a model that scores the next character,

    bpc = - (1/n) sum_t log2 p(x_{t+1} | x_1..x_t) = (cross-entropy in nats) / ln 2,

and, for captions, exact match (the candidate equals one of its references) with corpus BLEU
(:func:`~deepnets.seq.bleu.corpus_bleu`).

>>> round(float(bits_per_char(torch.zeros(3, 4), torch.tensor([0, 1, 2]))), 6)   # uniform over 4
2.0
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._registry import check_positive_int, eval_mode
from ..errors import DataError
from .bleu import corpus_bleu


def bits_per_char(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean -log2 p(target) under softmax(logits): logits (..., V), targets (...) -> scalar bits."""
    V = logits.shape[-1]
    nats = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))   # (M, V), (M,)
    return nats / math.log(2.0)


@torch.no_grad()
def evaluate_bpc(model: nn.Module, x: Tensor, y: Tensor, *, k: int = 100) -> float:
    """Bits per character of targets y (N, L) given inputs x (N, L), the state carried over chunks.

    Chunking only bounds memory: the state passes from chunk to chunk, so the result equals one
    pass over the whole rows (up to rounding). Use :func:`~deepnets.data.text_corpus.stream_batches`
    to lay a held-out stream out as rows.
    """
    check_positive_int("k", k)
    if x.shape != y.shape or x.dim() != 2:
        raise DataError(f"x and y must both be (N, L), got {tuple(x.shape)} and {tuple(y.shape)}")
    state, nats = None, 0.0
    with eval_mode(model):
        for s in range(0, x.shape[1], k):
            logits, state = model(x[:, s:s + k], state)                     # (N, k, V)
            nats += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[:, s:s + k].reshape(-1),
                                    reduction="sum").item()
    return nats / (y.numel() * math.log(2.0))


def caption_scores(candidates: Sequence[Sequence[str]],
                   references: Sequence[Sequence[Sequence[str]]]) -> dict[str, float]:
    """Exact match (the candidate equals one of its references) and corpus BLEU-4, both in [0, 1]."""
    if len(candidates) != len(references) or len(candidates) == 0:
        raise DataError(f"expected one reference set per candidate and at least one, got "
                        f"{len(candidates)} candidates and {len(references)} reference sets")
    exact = sum(list(c) in [list(r) for r in refs] for c, refs in zip(candidates, references))
    return {"exact_match": exact / len(candidates), "bleu": corpus_bleu(candidates, references)}
