"""Temperature sampling: T = 0 is argmax, T -> 0 tends to it, T draws from p^(1/T) / Z."""

import numpy as np
import pytest
import scipy.stats
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.seq.sampling import sample_next, temperature_probs


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
