"""Greedy and beam-search decoding for any autoregressive model behind one small interface.

A decoder is a callable ``step(prefix, state) -> (logits, state)``: ``prefix`` (B, t) holds the
tokens chosen so far (``<bos>`` first), ``logits`` (B, V) score the next token and ``state`` is
whatever the model carries between steps (an LSTM's (h, c), a Transformer's encoder memory, or
None): a tensor or a tuple/list/dict of tensors whose dimension ``batch_dim`` indexes the B rows.
An RNN reads only ``prefix[:, -1]``; a Transformer or the 2-D CNN reads the whole prefix.

Greedy decoding takes y_t = argmax_v p(v | y_<t, x). Beam search keeps the K prefixes of highest
log-probability log p(y_1..y_t | x) = sum_s log p(y_s | y_<s, x): at each step it extends every
live prefix by every token and keeps the K best of the K·V candidates; a prefix that emitted
``<eos>`` is finished and keeps its score. Finished hypotheses are ranked by
log p / |y|^alpha (alpha = ``length_penalty``; 0 ranks by raw log-probability, which favours
short outputs). Reference: Graves (2012), "Sequence transduction with recurrent neural networks"
(beam search for neural sequence models); Sutskever, Vinyals & Le (2014); length normalisation as
in Wu et al. (2016), "Google's neural machine translation system", with lp = |y|^alpha.

>>> import torch
>>> table = torch.log(torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0],    # after <pad> (unused)
...                                 [0.0, 0.0, 0.1, 0.5, 0.4],    # after <bos>: 3 likeliest
...                                 [0.0, 0.0, 1.0, 0.0, 0.0],    # after <eos>
...                                 [0.0, 0.0, 0.5, 0.3, 0.2],    # after 3: weak continuation
...                                 [0.0, 0.0, 0.9, 0.05, 0.05]]))  # after 4: sure to stop
>>> step = lambda prefix, state: (table[prefix[:, -1]], state)
>>> greedy_decode(step, None, batch_size=1, max_len=3)[0].tolist()
[[3, 2]]
>>> tokens, score = beam_search(step, None, batch_size=1, beam_size=2, max_len=3)
>>> tokens.tolist(), round(score.exp().item(), 3)   # p(4, eos) = 0.36 beats p(3, eos) = 0.25
([[4, 2]], 0.36)
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from ..errors import ConfigError
from .vocab import BOS, EOS, PAD

Step = Callable[[Tensor, Any], tuple[Tensor, Any]]


def select_rows(state: Any, index: Tensor, batch_dim: int = 0) -> Any:
    """The rows ``index`` of every tensor in a state (tensor, tuple, list, dict or None)."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.index_select(batch_dim, index)
    if isinstance(state, dict):
        return {k: select_rows(v, index, batch_dim) for k, v in state.items()}
    if isinstance(state, (tuple, list)):
        return type(state)(select_rows(s, index, batch_dim) for s in state)
    raise ConfigError(f"a decoder state must be tensors in tuples, lists or dicts, got {type(state).__name__}")


def _check(batch_size: int, max_len: int, beam_size: int = 1) -> None:
    for name, value in (("batch_size", batch_size), ("max_len", max_len), ("beam_size", beam_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} must be a positive int, got {value!r}")


@torch.no_grad()
def greedy_decode(step: Step, state: Any, *, batch_size: int, max_len: int, bos: int = BOS,
                  eos: int = EOS, pad: int = PAD, device=None) -> tuple[Tensor, Tensor]:
    """Decode by taking the likeliest token at every step.

    Returns:
        tokens (B, L) without ``<bos>``, each row ending at its ``<eos>`` and padded with
        ``pad`` after it (L <= max_len), and the log-probabilities (B,) of those sequences.
    """
    _check(batch_size, max_len)
    prefix = torch.full((batch_size, 1), bos, dtype=torch.long, device=device)   # (B, 1)
    score = torch.zeros(batch_size, device=device)
    done = torch.zeros(batch_size, dtype=torch.bool, device=device)
    for _ in range(max_len):
        logits, state = step(prefix, state)
        logp = torch.log_softmax(logits.float(), dim=-1)                         # (B, V)
        best, token = logp.max(dim=-1)
        score = score + torch.where(done, torch.zeros_like(best), best)
        token = torch.where(done, torch.full_like(token, pad), token)
        prefix = torch.cat([prefix, token[:, None]], dim=1)
        done = done | (token == eos)
        if bool(done.all()):
            break
    return prefix[:, 1:], score


@torch.no_grad()
def beam_search(step: Step, state: Any, *, batch_size: int, beam_size: int, max_len: int,
                length_penalty: float = 0.0, bos: int = BOS, eos: int = EOS, pad: int = PAD,
                batch_dim: int = 0, device=None, return_all: bool = False
                ) -> tuple[Tensor, Tensor]:
    """Decode by beam search with K = ``beam_size`` hypotheses per input.

    Args:
        step, state: the decoder (module docstring); ``state`` has B rows along ``batch_dim``
            and is repeated K times here.
        length_penalty: alpha in score / |y|^alpha for the final ranking. Default 0.
        return_all: also return every hypothesis, best first: tokens (B, K, L), scores (B, K).

    Returns:
        the best tokens (B, L) (as :func:`greedy_decode`) and their log-probabilities (B,).
    """
    _check(batch_size, max_len, beam_size)
    B, K = batch_size, beam_size
    rows = torch.arange(B, device=device).repeat_interleave(K)                  # (B*K,)
    state = select_rows(state, rows, batch_dim)
    prefix = torch.full((B * K, 1), bos, dtype=torch.long, device=device)      # (B*K, 1)
    score = torch.full((B, K), float("-inf"), device=device)
    score[:, 0] = 0.0                             # one live hypothesis at the start, not K copies
    done = torch.zeros(B * K, dtype=torch.bool, device=device)
    length = torch.zeros(B * K, device=device)
    for _ in range(max_len):
        logits, state = step(prefix, state)
        logp = torch.log_softmax(logits.float(), dim=-1)                          # (B*K, V)
        V = logp.shape[-1]
        # a finished hypothesis extends only by `pad` at no cost, so it keeps its score
        frozen = torch.full_like(logp, float("-inf"))
        frozen[:, pad] = 0.0
        logp = torch.where(done[:, None], frozen, logp)
        cand = (score.reshape(B * K, 1) + logp).reshape(B, K * V)                   # (B, K*V)
        score, flat = cand.topk(K, dim=1)                                          # (B, K)
        origin = (flat // V + torch.arange(B, device=device)[:, None] * K).reshape(-1)   # (B*K,)
        token = (flat % V).reshape(-1)                                             # (B*K,)
        prefix = torch.cat([prefix[origin], token[:, None]], dim=1)
        state = select_rows(state, origin, batch_dim)
        was_done = done[origin]
        length = length[origin] + (~was_done).float()
        done = was_done | (token == eos)
        if bool(done.all()):
            break
    ranked = score / length.clamp(min=1).reshape(B, K) ** length_penalty if length_penalty else score
    order = ranked.argsort(dim=1, descending=True)                                 # (B, K)
    tokens = prefix[:, 1:].reshape(B, K, -1).gather(1, order[:, :, None].expand(-1, -1, prefix.shape[1] - 1))
    score = score.gather(1, order)
    if return_all:
        return tokens, score
    return tokens[:, 0], score[:, 0]
