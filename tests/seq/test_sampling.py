"""Temperature sampling: T = 0 is argmax, T -> 0 tends to it, T draws from p^(1/T) / Z; text from a
character model, specials banned."""

import math

import numpy as np
import pytest
import scipy.stats
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.seq.sampling import sample, sample_next, temperature_probs
from deepnets.seq.vocab import SPECIALS, Vocab
from deepnets.zoo.char_lm import CharLM


def _logits(B=6, V=9, seed=0):
    s = torch.randn(B, V, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    s[torch.arange(B), s.argmax(1)] += 1.0                  # a clear winner in every row
    return s


def test_zero_and_tiny_temperature_are_argmax():
    s = _logits()
    assert torch.equal(sample_next(s, 0.0), s.argmax(1))
    g = torch.Generator().manual_seed(1)
    for _ in range(50):
        assert torch.equal(sample_next(s, 1e-4, generator=g), s.argmax(1))


@pytest.mark.parametrize("T", [1.0, 0.7, 2.0])
def test_same_draws_as_multinomial_on_softmax_over_T(T):
    s = _logits()
    ours = [sample_next(s, T, generator=torch.Generator().manual_seed(k)) for k in range(20)]
    theirs = [torch.multinomial(torch.softmax(s / T, 1), 1, generator=torch.Generator().manual_seed(k))[:, 0]
              for k in range(20)]
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)


@pytest.mark.parametrize("T", [1.0, 0.5])
def test_draw_frequencies_match_p_to_the_one_over_T(T):
    s = torch.tensor([[0.0, 1.0, -0.5, 0.3, 2.0]], dtype=torch.float64)
    p = torch.softmax(s, 1)[0].numpy()
    expected = p ** (1 / T) / (p ** (1 / T)).sum()         # softmax(s / T) written as powers of p
    np.testing.assert_allclose(temperature_probs(s, T)[0].numpy(), expected, rtol=1e-12)
    g = torch.Generator().manual_seed(3)
    draws = torch.cat([sample_next(s.expand(2000, 5), T, generator=g) for _ in range(5)])
    counts = torch.bincount(draws, minlength=5).numpy()
    assert scipy.stats.chisquare(counts, expected * counts.sum()).pvalue > 1e-3


def test_banned_tokens_and_errors():
    s = torch.zeros(3, 4)
    s[:, 1] = float("-inf")
    draws = sample_next(s.repeat(300, 1), 1.0, generator=torch.Generator().manual_seed(0))
    assert 1 not in draws.tolist()
    with pytest.raises(ConfigError):
        sample_next(s, -1.0)
    with pytest.raises(ConfigError):
        sample_next(s, float("nan"))
    with pytest.raises(DataError):
        sample_next(torch.zeros(4), 1.0)


def test_sampling_at_T_draws_from_softmax_over_T_with_specials_banned():
    torch.manual_seed(0)
    vocab = Vocab(list("abcde"))
    lm = CharLM(len(vocab), hidden_size=6)
    with torch.no_grad():
        lm.net.readout.bias[:len(SPECIALS)] = 5.0            # the specials would win if allowed
    for T in (1.0, 0.5):
        ours = sample(lm, vocab, "ab", 12, temperature=T, generator=torch.Generator().manual_seed(9))
        # the same draws by hand: feed the prompt, then multinomial on softmax(s / T), specials out
        g = torch.Generator().manual_seed(9)
        logits, state = lm(torch.tensor([vocab.encode("ab")]))
        chars = []
        for _ in range(12):
            s = logits[0, -1].detach().double()
            s[:len(SPECIALS)] = -math.inf
            nxt = torch.multinomial(torch.softmax(s / T, 0), 1, generator=g)
            chars.append(vocab.tokens[int(nxt)])
            logits, state = lm(nxt.view(1, 1), state)
        assert ours == "".join(chars)
        assert set(ours) <= set("abcde")


def test_sample_errors():
    vocab = Vocab(list("ab"))
    lm = CharLM(len(vocab), hidden_size=4)
    with pytest.raises(ConfigError):
        sample(lm, vocab, "", 3)
    with pytest.raises(DataError):
        sample(lm, vocab, "abz", 3)
    with pytest.raises(ConfigError):
        sample(lm, vocab, "a", -1)
