"""Short movie-review sentences with sentiment labels, generated offline from templates.

A review is one or two opinion clauses, each

    <aspect> <verb> [negator] [intensifier] <adjective>        "the plot was not very good"

with a positive or negative adjective whose polarity the negator ("not", "never", "hardly")
flips and the intensifier ("very", "truly" ...) leaves alone. Two clauses are joined so that
their ORDER decides the label:

- ``A but B``: B decides ("the acting was good but the ending was dull" is negative);
- ``although A , B`` and ``B , although A``: the main clause B decides, wherever it stands.

Neutral distractor clauses ("i saw it on a sunday", "i did not read the reviews") are added
before or after, some with a negator in them. The label is +1 -> 1 (positive), -1 -> 0.

A bag of words sees "not", "good", "bad", "but" and "although" without their order: it cannot
tell "A but B" from "B but A", nor learn that "not" flips "good" but also "bad" (an XOR of two
words), so its accuracy stays well below what a recurrent reader reaches.

>>> data = sentiment_reviews(20, 5, 5, seed=0)
>>> len(data.splits["train"][0]), data.splits["train"][1].dtype
(20, torch.int64)
>>> label_review("the plot was not good but the acting was never boring".split())
1
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import ConfigError, DataError
from ..seq.vocab import Vocab

ASPECTS = ["the plot", "the acting", "the film", "the movie", "the story", "the ending",
           "the script", "the soundtrack", "the cast", "the dialogue", "the pacing", "the camera work"]
VERBS = ["was", "is", "felt", "seemed"]
POSITIVE = ["good", "great", "brilliant", "moving", "funny", "gripping", "charming", "superb",
            "clever", "delightful"]
NEGATIVE = ["bad", "boring", "dull", "awful", "terrible", "clumsy", "predictable", "tedious",
            "weak", "forgettable"]
NEGATORS = ["not", "never", "hardly"]
INTENSIFIERS = ["very", "really", "truly", "quite", "extremely", "so"]
DISTRACTORS = ["i saw it on a sunday", "we watched it last week", "i did not read the reviews",
               "my sister chose it", "it was not shown in english", "the cinema was half full",
               "i went with two friends", "we never saw the trailer", "it runs for two hours"]

#: sentence shapes: name -> probability weight.
FORMS = {"single": 0.3, "but": 0.35, "although_first": 0.175, "although_last": 0.175}

_POLARITY = {**{w: 1 for w in POSITIVE}, **{w: -1 for w in NEGATIVE}}


def opinion_clause(rng: random.Random, polarity: int, p_negation: float = 0.3) -> list[str]:
    """A clause whose sentiment is ``polarity`` (+1 or -1), negated with probability p_negation."""
    negated = rng.random() < p_negation
    adjective_sign = -polarity if negated else polarity
    words = rng.choice(ASPECTS).split() + [rng.choice(VERBS)]
    if negated:
        words.append(rng.choice(NEGATORS))
    if rng.random() < 0.4:
        words.append(rng.choice(INTENSIFIERS))
    words.append(rng.choice(POSITIVE if adjective_sign > 0 else NEGATIVE))
    return words


def review(rng: random.Random, p_negation: float = 0.3) -> tuple[list[str], int]:
    """One generated review: (tokens, label 1 positive / 0 negative)."""
    form = rng.choices(list(FORMS), weights=list(FORMS.values()))[0]
    decisive = rng.choice([1, -1])
    other = rng.choice([1, -1])           # the other clause's polarity, independent of the label
    main = opinion_clause(rng, decisive, p_negation)
    if form == "single":
        words = main
    elif form == "but":
        words = opinion_clause(rng, other, p_negation) + ["but"] + main
    elif form == "although_first":
        words = ["although"] + opinion_clause(rng, other, p_negation) + [","] + main
    else:                                 # although_last
        words = main + [",", "although"] + opinion_clause(rng, other, p_negation)
    r = rng.random()
    if r < 0.25:
        words = rng.choice(DISTRACTORS).split() + ["and"] + words
    elif r < 0.5:
        words = words + ["and"] + rng.choice(DISTRACTORS).split()
    return words, int(decisive > 0)


def _clause_polarity(clause: list[str]) -> int | None:
    """+1 / -1 for an opinion clause (negators before its adjective flip it), None for neutral."""
    sign, polarity = 1, None
    for w in clause:
        if w in NEGATORS:
            sign = -sign
        elif w in _POLARITY:
            polarity = sign * _POLARITY[w]
    return polarity


def label_review(tokens: list[str]) -> int:
    """The label a careful reader gives, parsed from the words alone (1 positive, 0 negative).

    Clauses are cut at "but", "," and "and"; a clause that starts with "although" is concessive
    and never decides; after "but" the later opinion clause decides; otherwise the one
    non-concessive opinion clause does.
    """
    clauses, current = [], []
    for w in tokens:
        if w in ("but", ",", "and"):
            clauses.append(current)
            current = []
        else:
            current.append(w)
    clauses.append(current)
    deciding = [_clause_polarity(c) for c in clauses if c and c[0] != "although"]
    deciding = [p for p in deciding if p is not None]
    if not deciding:
        raise DataError(f"no opinion clause in {' '.join(tokens)!r}")
    return int(deciding[-1] > 0)


@dataclass
class SentimentData:
    """Token lists and labels per split, with the word vocabulary (built on the training split).

    ``splits[name] = (list of token lists, labels int64 (n,))``.
    """

    vocab: Vocab
    splits: dict[str, tuple[list[list[str]], Tensor]]

    def tensors(self, split: str) -> tuple[Tensor, Tensor, Tensor]:
        """Padded ids (N, L_max), lengths (N,) and labels (N,) of a split."""
        if split not in self.splits:
            raise ConfigError(f"unknown split {split!r}: expected one of {list(self.splits)}")
        sentences, labels = self.splits[split]
        ids, lengths = self.vocab.pad_batch([self.vocab.encode(s) for s in sentences])
        return ids, lengths, labels

    def texts(self, split: str) -> list[str]:
        """The sentences of a split as space-joined strings (for a bag-of-words baseline)."""
        return [" ".join(s) for s in self.splits[split][0]]


def sentiment_reviews(n_train: int = 4000, n_valid: int = 500, n_test: int = 1000, *,
                      p_negation: float = 0.3, seed: int = 0) -> SentimentData:
    """Generate distinct reviews, none shared between splits, labels balanced in expectation.

    Args:
        n_train, n_valid, n_test: sentences per split.
        p_negation: probability that an opinion clause is negated. Default 0.3. At 0.5 every
            adjective is as often in a positive review as in a negative one, and a bag of words
            falls to chance.
        seed: the generator's seed; the same seed gives the same corpus.
    """
    sizes = {"train": n_train, "valid": n_valid, "test": n_test}
    for name, n in sizes.items():
        if not isinstance(n, int) or n < 0:
            raise ConfigError(f"n_{name} must be an int >= 0, got {n!r}")
    if not 0.0 <= p_negation <= 1.0:
        raise ConfigError(f"p_negation must lie in [0, 1], got {p_negation!r}")
    rng = random.Random(seed)
    total, seen, drawn = sum(sizes.values()), {}, 0
    while len(seen) < total:
        words, label = review(rng, p_negation)
        seen.setdefault(tuple(words), label)      # distinct sentences only
        drawn += 1
        if drawn > 20 * total + 1000:
            raise ConfigError(f"could not draw {total} distinct reviews; ask for fewer")
    items = list(seen.items())                    # insertion order: deterministic given the seed
    splits, start = {}, 0
    for name, n in sizes.items():
        chunk = items[start:start + n]
        start += n
        splits[name] = ([list(w) for w, _ in chunk], torch.tensor([y for _, y in chunk], dtype=torch.long))
    vocab = Vocab.build(splits["train"][0])
    return SentimentData(vocab=vocab, splits=splits)
