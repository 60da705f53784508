"""The generated review corpus: hand-labelled cases, labels by two routes, splits."""

import random

import pytest
import torch

from deepnets.data.sentiment import (NEGATORS, label_review, opinion_clause, review,
                                     sentiment_reviews)
from deepnets.errors import ConfigError, DataError

HAND = [
    ("the plot was good", 1),
    ("the plot was not good", 0),
    ("the acting was never boring", 1),
    ("the ending is hardly extremely clever", 0),
    ("the film was very bad", 0),
    ("the script was good but the ending was dull", 0),
    ("the script was dull but the ending was good", 1),
    ("the cast was not funny but the story was not tedious", 1),
    ("although the plot was great , the acting was awful", 0),
    ("the acting was awful , although the plot was great", 0),
    ("although the plot was awful , the acting was great", 1),
    ("i did not read the reviews and the film was moving", 1),
    ("the film was moving and we never saw the trailer", 1),
    ("we never saw the trailer and the movie seemed not charming , although the cast was funny", 0),
]


@pytest.mark.parametrize("sentence,label", HAND)
def test_hand_labelled_reviews(sentence, label):
    assert label_review(sentence.split()) == label


def test_generated_labels_agree_with_the_parser_and_clause_polarity():
    rng = random.Random(1)
    for _ in range(2000):
        words, label = review(rng)
        assert label_review(words) == label
    for polarity in (1, -1):
        for _ in range(200):
            assert label_review(opinion_clause(rng, polarity)) == int(polarity > 0)


def test_corpus_is_seeded_distinct_disjoint_and_balanced():
    a = sentiment_reviews(1500, 200, 300, seed=3)
    b = sentiment_reviews(1500, 200, 300, seed=3)
    assert a.splits["test"][0] == b.splits["test"][0]
    sets = {s: {tuple(w) for w in a.splits[s][0]} for s in a.splits}
    assert [len(sets[s]) for s in ("train", "valid", "test")] == [1500, 200, 300]
    assert not (sets["train"] & sets["test"]) and not (sets["train"] & sets["valid"])
    assert 0.45 < a.splits["train"][1].double().mean().item() < 0.55
    ids, lengths, labels = a.tensors("valid")
    assert ids.shape == (200, int(lengths.max())) and labels.shape == (200,)
    assert a.texts("valid")[0] == " ".join(a.splits["valid"][0][0])


def test_negation_rate_and_errors():
    d = sentiment_reviews(300, 0, 0, p_negation=0.0, seed=0)
    for words, label in zip(*d.splits["train"]):              # negators only in distractors now
        assert "hardly" not in words
        assert label_review([w for w in words if w not in NEGATORS]) == label
    with pytest.raises(ConfigError):
        sentiment_reviews(10, 0, 0, p_negation=1.5)
    with pytest.raises(ConfigError):
        sentiment_reviews(-1, 0, 0)
    with pytest.raises(DataError):
        label_review("i saw it on a sunday".split())
    with pytest.raises(ConfigError):
        d.tensors("dev")
