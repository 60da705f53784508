"""Temperature sampling of the next token from a model's scores.

With scores (logits) s_v and temperature T > 0 the next token is drawn from

    p_T(v) = exp(s_v / T) / sum_u exp(s_u / T)  =  p(v)^(1/T) / sum_u p(u)^(1/T),

so T = 1 samples the model's own distribution p = softmax(s), T < 1 sharpens it towards the
likeliest token and T -> 0 is greedy decoding, argmax_v s_v (taken exactly for T = 0); T > 1
flattens it towards uniform. Reference: Ackley, Hinton & Sejnowski (1985) (the Boltzmann
temperature); Graves (2013), "Generating sequences with recurrent neural networks", arXiv 1308.0850.

>>> g = torch.Generator().manual_seed(0)
>>> sample_next(torch.tensor([[0.0, 3.0, 1.0]]), 0.0).tolist()
[1]
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .._registry import eval_mode
from ..errors import ConfigError, DataError
from .vocab import SPECIALS, Vocab


def temperature_probs(logits: Tensor, temperature: float) -> Tensor:
    """p_T = softmax(logits / T) over the last dimension, T > 0."""
    if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature <= 0:
        raise ConfigError(f"temperature must be a finite number > 0 here, got {temperature!r}")
    return torch.softmax(logits / temperature, dim=-1)


def sample_next(logits: Tensor, temperature: float = 1.0, *,
                generator: torch.Generator | None = None) -> Tensor:
    """Draw one token per row of ``logits`` (B, V) from softmax(logits / T); T = 0 takes the argmax.

    Args:
        logits: unnormalised scores (B, V); -inf bans a token.
        temperature: T >= 0. Default 1 (the model's distribution).
        generator: the random stream for the draw (``torch.multinomial``'s).

    Returns:
        int64 token ids (B,).
    """
    if logits.dim() != 2:
        raise DataError(f"expected logits of shape (B, V), got {tuple(logits.shape)}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    p = temperature_probs(logits.double(), temperature)            # (B, V), float64 for small T
    return torch.multinomial(p, 1, generator=generator).squeeze(1)  # (B, 1) -> (B,)


@torch.no_grad()
def sample(model: nn.Module, vocab: Vocab, prompt: str, n: int, *, temperature: float = 1.0,
           generator: torch.Generator | None = None) -> str:
    """Continue ``prompt`` by n characters drawn one at a time from softmax(s_t / T).

    The model reads the prompt, then each drawn character is fed back as the next input, the
    state carried along. The reserved ids (``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``), never
    targets of a character model, are banned (their scores set to -inf) before the draw.

    Args:
        model: ``logits, state = model(ids (1, L), state)``, e.g. a :class:`CharLM`.
        vocab: the character vocabulary the model was trained with.
        prompt: at least one character, every one in the vocabulary.
        n: how many characters to generate (>= 0).
        temperature: T >= 0; 0 is greedy (argmax), 1 the model's distribution. Default 1.
        generator: the random stream of the draws (same generator state, same text).

    Returns:
        the n generated characters (without the prompt).
    """
    if not isinstance(prompt, str) or not prompt:
        raise ConfigError(f"sample needs a non-empty prompt string, got {prompt!r}")
    if not isinstance(n, int) or n < 0:
        raise ConfigError(f"n must be an int >= 0, got {n!r}")
    device = next(model.parameters()).device
    ids = torch.tensor([vocab.encode(prompt, unknown="error")], device=device)   # (1, L)
    out = []
    with eval_mode(model):
        logits, state = model(ids, None)
        for _ in range(n):
            s = logits[:, -1].clone()                            # (1, V): scores of the next char
            s[:, :len(SPECIALS)] = float("-inf")
            nxt = sample_next(s, temperature, generator=generator)   # (1,)
            out.append(vocab.tokens[int(nxt)])
            logits, state = model(nxt.view(1, 1), state)
    return "".join(out)
