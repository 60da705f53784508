"""A character-level language model: embedding, a recurrent core, a softmax over characters.

For a text x_1 .. x_n of character ids the model reads one character per step and scores the next,

    e_t = E[x_t],   z_t = f_W(z_{t-1}, e_t),   s_t = W_yz z_t + b_y,
    p(x_{t+1} = v | x_1..x_t) = softmax(s_t)_v,

trained by cross-entropy on the next character with truncated BPTT, the state z carried from one
chunk of k characters to the next (:func:`~deepnets.train.tbptt.truncated_bptt`). It is scored
in bits per character,

    bpc = - (1/n) sum_t log2 p(x_{t+1} | x_1..x_t) = (cross-entropy in nats) / ln 2,

and generates text by temperature sampling (:func:`sample`). References: Sutskever, Martens &
Hinton (2011), "Generating text with recurrent neural networks", ICML; Graves (2013),
arXiv 1308.0850; Karpathy, Johnson & Fei-Fei (2015), "Visualizing and understanding recurrent
networks", arXiv 1506.02078.

>>> lm = CharLM(10, embed_size=4, hidden_size=8, cell="gru")
>>> logits, state = lm(torch.zeros(2, 5, dtype=torch.long))
>>> tuple(logits.shape), tuple(state.shape)
((2, 5, 10), (1, 2, 8))
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._registry import eval_mode
from ..errors import ConfigError, DataError
from ..seq.sampling import sample_next
from ..seq.vocab import SPECIALS, Vocab
from .recurrent import build_core
from .recurrent.base import State, check_sizes
from ..zoo.recurrent_net import RecurrentNet


class CharLM(nn.Module):
    """Embedding -> recurrent core -> linear read-out over the V characters, every step.

    ``forward(ids (N, L), state) -> (logits (N, L, V), state)``; the state is the core's
    (an LSTM's (z, c), each (D, N, H); a GRU's or Elman's z (D, N, H)).

    Args:
        vocab_size: V (the :class:`~deepnets.seq.vocab.Vocab` size, specials included).
        embed_size: size of the character embedding E (V, embed_size). Default 32.
        hidden_size: H. Default 128.
        num_layers: D. Default 1.
        cell: a name in :data:`~deepnets.nn.recurrent.CORES`. Default ``"lstm"`` (with peepholes).
        generator: seeds every initial weight (embedding N(0, 1), core and read-out
            U(-1/sqrt(H), 1/sqrt(H))); None uses torch's global stream.
    """

    def __init__(self, vocab_size: int, *, embed_size: int = 32, hidden_size: int = 128,
                 num_layers: int = 1, cell: str = "lstm", generator: torch.Generator | None = None):
        super().__init__()
        check_sizes(vocab_size=vocab_size, embed_size=embed_size)
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, embed_size)
        core = build_core(cell, embed_size, hidden_size, num_layers, generator=generator)
        self.net = RecurrentNet(core, vocab_size, mode="many_to_many")
        if generator is not None:
            r = 1.0 / math.sqrt(hidden_size)
            with torch.no_grad():
                self.embed.weight.normal_(generator=generator)
                self.net.readout.weight.uniform_(-r, r, generator=generator)
                self.net.readout.bias.uniform_(-r, r, generator=generator)

    def forward(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise DataError(f"expected int64 character ids (N, L), got {ids.dtype} {tuple(ids.shape)}")
        return self.net(self.embed(ids), state)           # (N, L, E) -> (N, L, V)


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
    check_sizes(k=k)
    if x.shape != y.shape or x.dim() != 2:
        raise DataError(f"x and y must both be (N, L), got {tuple(x.shape)} and {tuple(y.shape)}")
    state, nats = None, 0.0
    with eval_mode(model):
        for s in range(0, x.shape[1], k):
            logits, state = model(x[:, s:s + k], state)                     # (N, k, V)
            nats += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[:, s:s + k].reshape(-1),
                                    reduction="sum").item()
    return nats / (y.numel() * math.log(2.0))


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
