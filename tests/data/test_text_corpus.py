"""The shipped character corpus, its stream layout and the unigram baselines."""

import math

import pytest
import scipy.stats
import torch

from deepnets.data.text_corpus import (char_corpus, char_frequencies, python_topics_text,
                                       stream_batches, unigram_cross_entropy, unigram_entropy)
from deepnets.errors import ConfigError, DataError
from deepnets.seq.vocab import SPECIALS


def test_python_topics_is_a_few_hundred_kb_of_english():
    text = python_topics_text()
    assert 200_000 < len(text) < 2_000_000
    assert "The \"assert\" statement" in text and "Assert statements are a convenient way" in text
    assert text == python_topics_text()                  # same order every call


def test_splits_are_contiguous_and_cover_the_text():
    c = char_corpus(max_chars=5000, fractions=(0.8, 0.1, 0.1))
    assert [len(c.splits[s]) for s in ("train", "valid", "test")] == [4000, 500, 500]
    joined = torch.cat([c.splits[s] for s in ("train", "valid", "test")])
    assert "".join(c.vocab.tokens[i] for i in joined.tolist()) == c.text
    assert c.vocab.unk_id not in joined.tolist()


@pytest.mark.parametrize("kw", [dict(fractions=(0.5, 0.5)), dict(fractions=(0.9, 0.2, -0.1)),
                                dict(max_chars=2), dict(source="war_and_peace")])
def test_bad_arguments(kw):
    with pytest.raises(ConfigError):
        char_corpus(**kw)


def test_stream_rows_continue_the_text_and_targets_are_next_chars():
    ids = torch.arange(103)
    x, y = stream_batches(ids, 4)                          # L = 102 // 4 = 25
    assert x.shape == y.shape == (4, 25)
    for r in range(4):
        assert x[r].tolist() == list(range(25 * r, 25 * r + 25))
    assert torch.equal(y, x + 1)
    with pytest.raises(DataError):
        stream_batches(torch.arange(3), 4)
    with pytest.raises(DataError):
        stream_batches(torch.zeros(2, 5, dtype=torch.long), 1)
    with pytest.raises(ConfigError):
        stream_batches(ids, 0)


def test_unigram_entropy_by_hand_and_scipy():
    a, b = len(SPECIALS), len(SPECIALS) + 1
    ids = torch.tensor([a, a, b])                           # p = (2/3, 1/3)
    by_hand = -(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3))
    assert unigram_entropy(ids, 7) == pytest.approx(by_hand, abs=1e-12)
    counts = torch.bincount(torch.randint(4, 20, (500,), generator=torch.Generator().manual_seed(0)))
    ids = torch.repeat_interleave(torch.arange(len(counts)), counts)
    assert unigram_entropy(ids, 20) == pytest.approx(scipy.stats.entropy(counts.numpy(), base=2), abs=1e-12)


def test_unigram_cross_entropy_add_one_by_hand():
    V = len(SPECIALS) + 3                                   # 3 ordinary characters a, b, c
    a, b, c = range(len(SPECIALS), V)
    train, valid = torch.tensor([a, a, b]), torch.tensor([a, c])
    q_a, q_c = (2 + 1) / (3 + 3), (0 + 1) / (3 + 3)         # add-one over 3 ordinary characters
    assert unigram_cross_entropy(train, valid, V) == pytest.approx(-(math.log2(q_a) + math.log2(q_c)) / 2)
    p = char_frequencies(train, V, smoothing=1.0)
    assert p[:len(SPECIALS)].sum() == 0 and p.sum().item() == pytest.approx(1.0)
