"""An offline translation task: numbers written in digits -> the same numbers in English words.

``"40512"`` -> ``forty thousand five hundred twelve``. The source is a character sequence, the
target a word sequence about twice as long, with reordering-free but non-trivial structure
(teens, tens, the "thousand"/"million" scale words, zeros that vanish): a small stand-in for
machine translation that needs no download, on which exact match and BLEU mean something.

>>> " ".join(number_words(40512))
'forty thousand five hundred twelve'
>>> d = numbers_to_words(50, 10, seed=0)
>>> len(d.pairs["train"]), len(d.pairs["test"]), d.src_vocab.tokens[4:8]
(50, 10, ['0', '1', '2', '3'])
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError
from ..seq.vocab import Vocab

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
        "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
SCALES = [(10 ** 9, "billion"), (10 ** 6, "million"), (10 ** 3, "thousand")]


def _below_thousand(n: int) -> list[str]:
    words = []
    if n >= 100:
        words += [ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(TENS[n // 10])
        n %= 10
    if n or not words:
        words.append(ONES[n])
    return words


def number_words(n: int) -> list[str]:
    """The English words of 0 <= n < 10^12, short scale, no "and" or hyphens: 21 -> twenty one."""
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < 10 ** 12:
        raise ConfigError(f"number_words takes an int in [0, 10^12), got {n!r}")
    if n == 0:
        return ["zero"]
    words = []
    for scale, name in SCALES:
        if n >= scale:
            words += _below_thousand(n // scale) + [name]
            n %= scale
    if n:
        words += _below_thousand(n)
    return words


@dataclass
class Seq2SeqData:
    """Token pairs per split with their vocabularies; :meth:`tensors` pads a split for a model."""

    src_vocab: Vocab
    tgt_vocab: Vocab
    pairs: dict[str, list[tuple[list[str], list[str]]]]    # split -> [(source tokens, target tokens)]

    def tensors(self, split: str) -> tuple[Tensor, Tensor]:
        """Source ids (N, S) and target ids framed by <bos> ... <eos> (N, T + 2), both padded."""
        if split not in self.pairs:
            raise ConfigError(f"unknown split {split!r}: expected one of {list(self.pairs)}")
        src = [self.src_vocab.encode(s) for s, _ in self.pairs[split]]
        tgt = [self.tgt_vocab.encode(t, bos=True, eos=True) for _, t in self.pairs[split]]
        return self.src_vocab.pad_batch(src)[0], self.tgt_vocab.pad_batch(tgt)[0]


def numbers_to_words(n_train: int, n_test: int, *, max_value: int = 999_999, n_valid: int = 0,
                     seed: int = 0) -> Seq2SeqData:
    """Distinct random integers in [0, max_value], split into disjoint train/valid/test sets.

    Args:
        n_train, n_test: pairs per split; ``n_valid`` optional validation pairs. Default 0.
        max_value: the largest number. Default 999,999 (up to 6 digits, up to 12 words).
        seed: the same seed gives the same pairs.
    """
    for name, value in (("n_train", n_train), ("n_test", n_test), ("n_valid", n_valid)):
        if not isinstance(value, int) or value < 0:
            raise ConfigError(f"{name} must be an int >= 0, got {value!r}")
    total = n_train + n_valid + n_test
    if not isinstance(max_value, int) or not 0 <= max_value < 10 ** 12 or total > max_value + 1:
        raise ConfigError(f"need {total} distinct numbers in [0, max_value]: max_value must be an int in "
                          f"[{total - 1}, 10^12), got {max_value!r}")
    numbers = random.Random(seed).sample(range(max_value + 1), total)
    cuts = {"train": numbers[:n_train], "valid": numbers[n_train:n_train + n_valid],
            "test": numbers[n_train + n_valid:]}
    pairs = {k: [(list(str(n)), number_words(n)) for n in v] for k, v in cuts.items() if v or k != "valid"}
    src_vocab = Vocab(list("0123456789"))
    words = ONES + TENS[2:] + ["hundred"] + [name for _, name in reversed(SCALES)]
    return Seq2SeqData(src_vocab, Vocab(words), pairs)
