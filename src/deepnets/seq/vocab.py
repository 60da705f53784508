"""Tokens to integer ids and back, with the four reserved symbols every sequence model needs.

Ids 0..3 are ``<pad>`` (fills short rows of a batch; losses ignore it), ``<bos>`` (the first input
of a decoder), ``<eos>`` (ends a sequence; decoding stops there) and ``<unk>`` (a token not in the
vocabulary). The others follow in the order given, or by falling count when built from a corpus.

>>> v = Vocab.build([["a", "b", "b"], ["c", "b"]])
>>> v.tokens[4:], v.encode(["b", "z"], bos=True, eos=True)
(['b', 'a', 'c'], [1, 4, 3, 2])
>>> v.decode([1, 4, 5, 2, 6])
['b', 'a']
>>> batch, lengths = v.pad_batch([[4, 5], [6]])
>>> batch.tolist(), lengths.tolist()
([[4, 5], [6, 0]], [2, 1])
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import torch
from torch import Tensor

from ..errors import ConfigError, DataError

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = range(4)


class Vocab:
    """A fixed list of tokens after the four specials; ``encode``/``decode`` map both ways.

    Args:
        tokens: the ordinary tokens, each once, none of them a special.
    """

    pad_id, bos_id, eos_id, unk_id = PAD, BOS, EOS, UNK

    def __init__(self, tokens: Iterable[str]):
        tokens = list(tokens)
        clash = sorted(set(tokens) & set(SPECIALS))
        if clash:
            raise ConfigError(f"vocabulary tokens may not be the reserved {list(SPECIALS)}, got {clash}")
        if len(set(tokens)) != len(tokens):
            twice = sorted(t for t, n in Counter(tokens).items() if n > 1)[:5]
            raise ConfigError(f"vocabulary tokens must be distinct, repeated: {twice}")
        self.tokens: list[str] = list(SPECIALS) + tokens
        self._ids = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]], *, min_count: int = 1,
              max_size: int | None = None) -> "Vocab":
        """The tokens of a corpus by falling count (ties by first appearance), specials first.

        Args:
            sequences: tokenised texts (lists of str; a str counts as its characters).
            min_count: drop tokens seen fewer times. Default 1.
            max_size: keep at most this many ordinary tokens. Default all.
        """
        if not isinstance(min_count, int) or min_count < 1:
            raise ConfigError(f"min_count must be an int >= 1, got {min_count!r}")
        counts: Counter = Counter()
        for seq in sequences:
            counts.update(seq)
        for s in SPECIALS:
            counts.pop(s, None)
        ranked = [t for t, n in counts.most_common() if n >= min_count]   # stable for ties
        return cls(ranked[:max_size] if max_size is not None else ranked)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._ids

    def encode(self, tokens: Iterable[str], *, bos: bool = False, eos: bool = False,
               unknown: str = "unk") -> list[int]:
        """Ids of the tokens, optionally framed by ``<bos>`` and ``<eos>``.

        Args:
            unknown: ``"unk"`` maps an unseen token to ``<unk>``; ``"error"`` raises DataError.
        """
        if unknown not in ("unk", "error"):
            raise ConfigError(f"unknown must be 'unk' or 'error', got {unknown!r}")
        ids = [BOS] if bos else []
        for t in tokens:
            i = self._ids.get(t)
            if i is None:
                if unknown == "error":
                    raise DataError(f"token {t!r} is not in the vocabulary of {len(self)} tokens")
                i = UNK
            ids.append(i)
        if eos:
            ids.append(EOS)
        return ids

    def decode(self, ids: Iterable[int] | Tensor) -> list[str]:
        """Tokens of the ids up to the first ``<eos>``, without ``<pad>`` and ``<bos>``."""
        out = []
        for i in (ids.tolist() if isinstance(ids, Tensor) else ids):
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            if not 0 <= i < len(self.tokens):
                raise DataError(f"id {i} is outside the vocabulary of {len(self)} tokens")
            out.append(self.tokens[i])
        return out

    def pad_batch(self, seqs: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
        """Stack id lists into (N, L_max) int64 padded with ``<pad>``, and their lengths (N,)."""
        if len(seqs) == 0:
            raise DataError("pad_batch needs at least one sequence")
        lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
        batch = torch.full((len(seqs), int(lengths.max())), PAD, dtype=torch.long)   # (N, L_max)
        for row, s in enumerate(seqs):
            batch[row, :len(s)] = torch.as_tensor(list(s), dtype=torch.long)
        return batch, lengths

    def to_dict(self) -> dict:
        """A JSON-ready description; :meth:`from_dict` rebuilds the same vocabulary."""
        return {"tokens": self.tokens[len(SPECIALS):]}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocab":
        if not isinstance(d, dict) or not isinstance(d.get("tokens"), list):
            raise DataError(f"expected a dict with a 'tokens' list, got {type(d).__name__}")
        return cls(d["tokens"])
