"""A character corpus that ships with Python: the Language Reference topics behind ``help()``.

CPython installs ``pydoc_data/topics.py``, a dict of about 80 plain-text sections of the
Python Language Reference (the pages ``help("assert")``, ``help("with")`` ... show): about
465 000 characters of English prose and code on CPython 3.11, with about 100 distinct
characters. We read it through ``importlib`` (no file path, nothing downloaded), join the
sections in sorted-key order so the text is the same on every run of the same Python, and cut it
into contiguous train / valid / test pieces (never shuffled: a character model is validated on
text it has not read, not on random characters from the middle of its training text).

The vocabulary is built on the whole text, as char-rnn-style models do, so that every validation
character has an id; the splits still never share a character position.

The unigram baseline of a character model is the entropy of the character frequencies,

    H = - sum_c p(c) log2 p(c)        (bits per character),

what a model that ignores all context would score on text with those frequencies
(:func:`unigram_entropy`); :func:`unigram_cross_entropy` scores held-out text under training
frequencies (add-one smoothed), the fair baseline for validation bits per character.

>>> c = char_corpus(max_chars=10_000)
>>> len(c.text), sum(len(ids) for ids in c.splits.values())
(10000, 10000)
>>> c.vocab.decode(c.splits["train"][:10].tolist())
['T', 'h', 'e', ' ', '"', 'a', 's', 's', 'e', 'r']
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError, DataError
from ..seq.vocab import SPECIALS, Vocab


def python_topics_text() -> str:
    """The text of CPython's ``pydoc_data.topics`` (the Language Reference pages), sections joined.

    Sections are joined in sorted-key order with a blank line between them.
    """
    try:
        topics = importlib.import_module("pydoc_data.topics").topics
    except (ImportError, AttributeError) as e:    # a stripped-down Python may lack it
        raise DataError(f"this Python has no pydoc_data.topics to read text from ({e})") from None
    return "\n\n".join(topics[k].strip("\n") for k in sorted(topics))


#: name -> function returning the text. Nothing here reads the network.
TEXTS = {"python_topics": python_topics_text}


@dataclass
class CharCorpus:
    """A text, its character vocabulary, and contiguous id splits.

    Attributes:
        text: the (possibly truncated) text.
        vocab: a :class:`~deepnets.seq.vocab.Vocab` of its characters (specials first).
        splits: ``{"train", "valid", "test"}`` -> int64 ids (n,), contiguous pieces in that order.
        source: where the text came from.
    """

    text: str
    vocab: Vocab
    splits: dict[str, Tensor]
    source: str


def char_corpus(source: str = "python_topics", *, max_chars: int | None = None,
                fractions: tuple[float, float, float] = (0.9, 0.05, 0.05)) -> CharCorpus:
    """Load a shipped text as character ids, split into contiguous train / valid / test pieces.

    Args:
        source: one of :data:`TEXTS`. Default ``"python_topics"``.
        max_chars: keep only the first this many characters (for quick runs). Default all.
        fractions: train, valid, test shares (positive, summing to 1). Default (0.9, 0.05, 0.05).
    """
    if source not in TEXTS:
        raise ConfigError(f"unknown text {source!r}: expected one of {sorted(TEXTS)}")
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or not math.isclose(sum(fractions), 1.0):
        raise ConfigError(f"fractions must be three positive shares summing to 1, got {fractions!r}")
    text = TEXTS[source]()
    if max_chars is not None:
        if not isinstance(max_chars, int) or max_chars < 3:
            raise ConfigError(f"max_chars must be an int >= 3, got {max_chars!r}")
        text = text[:max_chars]
    clash = sorted(set(text) & set(SPECIALS))      # single characters never equal "<pad>" etc.
    if clash:
        raise DataError(f"text contains reserved tokens {clash}")
    vocab = Vocab.build([text])
    ids = torch.tensor(vocab.encode(text), dtype=torch.long)   # (n,)
    n = len(ids)
    n_train, n_valid = int(n * fractions[0]), int(n * fractions[1])
    splits = {"train": ids[:n_train], "valid": ids[n_train:n_train + n_valid],
              "test": ids[n_train + n_valid:]}
    return CharCorpus(text=text, vocab=vocab, splits=splits, source=source)


def stream_batches(ids: Tensor, batch_size: int) -> tuple[Tensor, Tensor]:
    """Cut one id stream into N parallel contiguous rows: inputs (N, L) and next-char targets (N, L).

    Row r holds the characters [r L, (r + 1) L] of the stream (L = (n - 1) // N; the tail that
    does not fill a row is dropped), so a state carried from one chunk of columns to the next
    continues the same text: the layout truncated BPTT needs.

    >>> x, y = stream_batches(torch.arange(11), 2)
    >>> x.tolist(), y.tolist()
    ([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]], [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")
    if ids.dim() != 1:
        raise DataError(f"expected a 1-D id stream, got shape {tuple(ids.shape)}")
    L = (len(ids) - 1) // batch_size
    if L < 1:
        raise DataError(f"a stream of {len(ids)} ids is too short for {batch_size} rows")
    x = ids[:batch_size * L].view(batch_size, L)              # (N, L)
    y = ids[1:batch_size * L + 1].view(batch_size, L)         # (N, L), shifted by one
    return x, y


def char_frequencies(ids: Tensor, vocab_size: int, *, smoothing: float = 0.0) -> Tensor:
    """Relative frequencies p(c) of the ids over a vocabulary of size V, add-``smoothing`` counts.

    Smoothing is added to the ordinary characters only; the specials keep probability 0.
    """
    counts = torch.bincount(ids, minlength=vocab_size).double()    # (V,)
    counts[len(SPECIALS):] += smoothing
    return counts / counts.sum()


def unigram_entropy(ids: Tensor, vocab_size: int) -> float:
    """H = - sum_c p(c) log2 p(c) of the character frequencies of ``ids``, in bits per character."""
    p = char_frequencies(ids, vocab_size)
    p = p[p > 0]
    return float(-(p * p.log2()).sum())


def unigram_cross_entropy(train_ids: Tensor, eval_ids: Tensor, vocab_size: int) -> float:
    """Bits per character of ``eval_ids`` under add-one smoothed training frequencies.

    - (1/n) sum_t log2 q(x_t),  q(c) = (count_train(c) + 1) / (n_train + V'),  V' ordinary chars.
    """
    q = char_frequencies(train_ids, vocab_size, smoothing=1.0)
    return float(-q[eval_ids].log2().mean())
