"""BLEU: modified n-gram precision with a brevity penalty (Papineni, Roukos, Ward & Zhu 2002).

Over a corpus of candidates c and their reference sets R(c),

    p_n = sum_c sum_{g in ngrams_n(c)} min(count_c(g), max_{r in R(c)} count_r(g))
          / sum_c |ngrams_n(c)|                         (clipped counts: "modified precision")
    BP  = 1 if C > R else exp(1 - R / C)                C = total candidate length,
                                                        R = sum of the reference lengths closest
                                                        to each candidate's (ties: the shorter)
    BLEU = BP * exp(sum_{n=1..N} w_n log p_n),          w_n = 1/N, N = 4 by default.

The counts are summed over the corpus before dividing (corpus BLEU, as in the paper), so it is not
the mean of sentence scores. Any p_n = 0 makes BLEU 0 unless ``smoothing`` says otherwise:
``"add_one"`` adds 1 to the numerator and denominator of p_n for n > 1 (Lin & Och 2004).
Scores are in [0, 1]; multiply by 100 for the usual percentage.

>>> ref = "the cat is on the mat".split()
>>> round(corpus_bleu([ref], [[ref]]), 6)
1.0
>>> round(corpus_bleu(["the cat sat".split()], [[ref]], max_n=1), 4)   # p1 = 2/3, BP = e^(1-2)
0.2453
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Callable, Sequence

from ..errors import ConfigError, DataError

Tokens = Sequence[str] | Sequence[int]


def ngrams(tokens: Tokens, n: int) -> Counter:
    """Counts of the n-grams (as tuples) of one token sequence."""
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def modified_precision(candidate: Tokens, references: Sequence[Tokens], n: int) -> tuple[int, int]:
    """(clipped matches, candidate n-grams) of one candidate: the terms of p_n before summing."""
    cand = ngrams(candidate, n)
    most: Counter = Counter()
    for ref in references:
        most |= ngrams(ref, n)                  # elementwise max over the references
    return sum(min(k, most[g]) for g, k in cand.items()), sum(cand.values())


def closest_length(candidate: Tokens, references: Sequence[Tokens]) -> int:
    """The reference length nearest to the candidate's (the shorter one on a tie)."""
    return min((abs(len(r) - len(candidate)), len(r)) for r in references)[1]


def _no_smoothing(n: int, matches: int, total: int) -> tuple[float, float]:
    return matches, total


def _add_one(n: int, matches: int, total: int) -> tuple[float, float]:
    return (matches + 1, total + 1) if n > 1 else (matches, total)


SMOOTHING: dict[str, Callable[[int, int, int], tuple[float, float]]] = {
    "none": _no_smoothing,
    "add_one": _add_one,
}


def corpus_bleu(candidates: Sequence[Tokens], references: Sequence[Sequence[Tokens]], *,
                max_n: int = 4, smoothing: str = "none") -> float:
    """Corpus BLEU of tokenised candidates against one or more references each, in [0, 1].

    Args:
        candidates: one token list per sentence (str or int tokens).
        references: for each candidate, a list of its reference token lists.
        max_n: N, the longest n-gram; uniform weights 1/N. Default 4.
        smoothing: one of :data:`SMOOTHING`. Default ``"none"``.

    Reference: Papineni et al. (2002), "BLEU: a method for automatic evaluation of machine
    translation", ACL; smoothing: Lin & Och (2004), COLING.
    """
    if smoothing not in SMOOTHING:
        raise ConfigError(f"unknown smoothing {smoothing!r}: expected one of {list(SMOOTHING)}")
    if not isinstance(max_n, int) or max_n < 1:
        raise ConfigError(f"max_n must be an int >= 1, got {max_n!r}")
    if len(candidates) != len(references):
        raise DataError(f"expected one reference set per candidate, got {len(candidates)} candidates "
                        f"and {len(references)} reference sets")
    matches, totals = [0] * max_n, [0] * max_n
    c_len = r_len = 0
    for row, (cand, refs) in enumerate(zip(candidates, references)):
        if len(refs) == 0:
            raise DataError(f"candidate {row} has no reference")
        c_len += len(cand)
        r_len += closest_length(cand, refs)
        for n in range(1, max_n + 1):
            m, t = modified_precision(cand, refs, n)
            matches[n - 1] += m
            totals[n - 1] += t
    if c_len == 0:
        return 0.0
    log_p = 0.0
    for n in range(1, max_n + 1):
        m, t = SMOOTHING[smoothing](n, matches[n - 1], totals[n - 1])
        if m == 0 or t == 0:
            return 0.0
        log_p += math.log(m / t) / max_n
    bp = 1.0 if c_len > r_len else math.exp(1.0 - r_len / c_len)
    return bp * math.exp(log_p)


def sentence_bleu(candidate: Tokens, references: Sequence[Tokens], *, max_n: int = 4,
                  smoothing: str = "add_one") -> float:
    """BLEU of one sentence (add-one smoothing by default: short sentences often miss 4-grams)."""
    return corpus_bleu([candidate], [references], max_n=max_n, smoothing=smoothing)
