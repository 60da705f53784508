"""Sequence utilities shared by the language, translation and captioning models.

- :mod:`~deepnets.seq.vocab`: tokens <-> ids with ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``.
- :mod:`~deepnets.seq.decode`: greedy and beam-search decoding behind ``step(prefix, state)``.
- :mod:`~deepnets.seq.sampling`: temperature sampling of the next token, and of text from a
  character model.
- :mod:`~deepnets.seq.bleu`: corpus and sentence BLEU (Papineni et al. 2002).
- :mod:`~deepnets.seq.metrics`: bits per character of a language model, caption scores.
"""

from .bleu import SMOOTHING, corpus_bleu, modified_precision, ngrams, sentence_bleu
from .decode import beam_search, greedy_decode, select_rows
from .metrics import bits_per_char, caption_scores, evaluate_bpc
from .sampling import sample, sample_next, temperature_probs
from .vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocab

__all__ = [
    # vocabularies
    "Vocab", "SPECIALS", "PAD", "BOS", "EOS", "UNK",
    # decoding
    "greedy_decode", "beam_search", "select_rows", "sample_next", "temperature_probs", "sample",
    # scores
    "corpus_bleu", "sentence_bleu", "modified_precision", "ngrams", "SMOOTHING",
    "bits_per_char", "evaluate_bpc", "caption_scores",
]
