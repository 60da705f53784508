"""BLEU against the worked examples of Papineni et al. (2002) and against NLTK's implementation."""

import math
import random

import pytest

from deepnets.errors import ConfigError, DataError
from deepnets.seq.bleu import closest_length, corpus_bleu, modified_precision, sentence_bleu


def words(text):
    return text.lower().replace(".", "").split()


# Papineni et al. (2002), Section 2.1, Example 1 (three references, two candidates)
REFS = [words("It is a guide to action that ensures that the military will forever heed Party commands."),
        words("It is the guiding principle which guarantees the military forces always being under the "
              "command of the Party."),
        words("It is the practical guide for the army always to heed the directions of the party.")]
CAND1 = words("It is a guide to action which ensures that the military always obeys the commands of the party.")
CAND2 = words("It is to insure the troops forever hearing the activity guidebook that party direct.")


def test_modified_precisions_of_the_papers_example():
    # the paper: unigram 17/18 and 8/14, bigram 10/17 and 1/13
    assert modified_precision(CAND1, REFS, 1) == (17, 18)
    assert modified_precision(CAND2, REFS, 1) == (8, 14)
    assert modified_precision(CAND1, REFS, 2) == (10, 17)
    assert modified_precision(CAND2, REFS, 2) == (1, 13)


def test_clipping_of_the_repeated_word():
    # the paper's Example 2: "the the the the the the the" gets 2/7
    refs = [words("The cat is on the mat."), words("There is a cat on the mat.")]
    assert modified_precision(["the"] * 7, refs, 1) == (2, 7)


def test_brevity_penalty_and_closest_reference_length():
    assert closest_length([1] * 5, [[1] * 3, [1] * 7]) == 3        # tie 2 and 2: the shorter
    cand, ref = list("abcd"), list("abcdefgh")
    # every n-gram of the candidate matches: BLEU is the brevity penalty exp(1 - 8/4)
    assert corpus_bleu([cand], [[ref]]) == pytest.approx(math.exp(-1.0))
    assert corpus_bleu([ref], [[ref]]) == pytest.approx(1.0)


def test_geometric_mean_by_hand():
    cand, ref = "a b c d e".split(), "a b c d f".split()
    # p1 = 4/5, p2 = 3/4, p3 = 2/3, p4 = 1/2, equal lengths: BP = 1
    want = (4 / 5 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25
    assert corpus_bleu([cand], [[ref]]) == pytest.approx(want)
    # add-one smoothing for n > 1 only
    want = (4 / 5 * 4 / 5 * 3 / 4 * 2 / 3) ** 0.25
    assert sentence_bleu(cand, [ref]) == pytest.approx(want)


def test_equals_nltk_on_random_corpora():
    # candidates of >= 4 tokens: for a candidate with no n-grams NLTK counts a denominator of 1
    # where the paper's sum has 0, so the two differ there by design
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
    rng = random.Random(0)
    for trial in range(20):
        cands, refs = [], []
        for _ in range(rng.randint(1, 6)):
            n = rng.randint(4, 12)
            ref = [rng.choice("abcdef") for _ in range(n)]
            cand = [t if rng.random() < 0.7 else rng.choice("abcdefg") for t in ref[:rng.randint(4, n + 2)]]
            refs.append([ref, [rng.choice("abcdef") for _ in range(rng.randint(3, 10))]])
            cands.append(cand)
        want = nltk_bleu.corpus_bleu(refs, cands)
        assert corpus_bleu(cands, refs) == pytest.approx(want, abs=1e-12), trial


def test_clear_errors():
    with pytest.raises(DataError, match="one reference set per candidate"):
        corpus_bleu([["a"]], [])
    with pytest.raises(DataError, match="no reference"):
        corpus_bleu([["a"]], [[]])
    with pytest.raises(ConfigError, match="unknown smoothing 'x'"):
        corpus_bleu([["a"]], [[["a"]]], smoothing="x")
    assert corpus_bleu([[]], [[["a"]]]) == 0.0
