"""Greedy and beam search against brute-force enumeration of every output sequence."""

import itertools

import pytest
import torch

from deepnets.errors import ConfigError
from deepnets.seq.decode import beam_search, greedy_decode, select_rows
from deepnets.seq.vocab import BOS, EOS, PAD


def random_lm(V, seed, context=2):
    """A fixed random model p(y_t | last `context` tokens, input row b): logits from a table."""
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(4, *([V] * context), V, generator=g) * 2.0   # (B_max, V, V, V)

    def step(prefix, state):
        last = prefix[:, -context:] if prefix.shape[1] >= context else \
            torch.cat([torch.full((prefix.shape[0], context - prefix.shape[1]), BOS), prefix], 1)
        logits = table[state[:, 0], last[:, 0], last[:, 1]]          # (B, V)
        logits[:, PAD] = -1e9                                        # never emit <pad> or <bos>
        logits[:, BOS] = -1e9
        return logits, state
    return step


def brute_force(step, b, V, max_len):
    """The likeliest sequence over every sequence up to max_len (ending at <eos> or cut)."""
    best, best_lp = None, -float("inf")
    for L in range(1, max_len + 1):
        for seq in itertools.product(range(2, V), repeat=L):
            if EOS in seq[:-1] or (L < max_len and seq[-1] != EOS):
                continue
            prefix, lp = torch.tensor([[BOS]]), 0.0
            for tok in seq:
                logits, _ = step(prefix, torch.tensor([[b]]))
                lp += torch.log_softmax(logits, -1)[0, tok].item()
                prefix = torch.cat([prefix, torch.tensor([[tok]])], 1)
            if lp > best_lp:
                best, best_lp = list(seq), lp
    return best, best_lp


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wide_beam_finds_the_likeliest_sequence(seed):
    V, max_len = 5, 4
    step = random_lm(V, seed)
    state = torch.arange(4)[:, None]                                 # (B, 1): which input row
    tokens, score = beam_search(step, state, batch_size=4, beam_size=V ** max_len, max_len=max_len)
    for b in range(4):
        want, want_lp = brute_force(step, b, V, max_len)
        got = [t for t in tokens[b].tolist() if t != PAD]
        assert got == want
        assert score[b].item() == pytest.approx(want_lp, abs=1e-4)


def test_beam_of_one_is_greedy_and_beams_never_score_worse():
    step = random_lm(7, 3)
    state = torch.arange(4)[:, None]
    g_tokens, g_score = greedy_decode(step, state, batch_size=4, max_len=6)
    b_tokens, b_score = beam_search(step, state, batch_size=4, beam_size=1, max_len=6)
    assert torch.equal(g_tokens, b_tokens)
    assert torch.allclose(g_score, b_score)
    for K in (2, 4, 8):
        assert (beam_search(step, state, batch_size=4, beam_size=K, max_len=6)[1] >= g_score - 1e-5).all()


def test_all_hypotheses_are_sorted_and_distinct():
    step = random_lm(6, 4)
    tokens, scores = beam_search(step, torch.arange(2)[:, None], batch_size=2, beam_size=5, max_len=5,
                                 return_all=True)
    assert tokens.shape[:2] == (2, 5)
    assert (scores[:, :-1] >= scores[:, 1:]).all()
    for b in range(2):
        assert len({tuple(t) for t in tokens[b].tolist()}) == 5


def test_length_penalty_prefers_longer_outputs():
    # after <bos>: eos 0.4, token 3 0.6; after 3: token 4 0.99; after 4: eos 0.99
    table = torch.full((6, 6), 1e-9)
    table[BOS, EOS], table[BOS, 3] = 0.4, 0.6
    table[3, 4], table[4, EOS] = 0.99, 0.99
    table[3, EOS] = table[EOS, EOS] = table[PAD, EOS] = 0.01
    logits = table.log()
    step = lambda prefix, state: (logits[prefix[:, -1]], state)
    # raw: "<eos>" (0.4) loses to "3 4 <eos>" (0.588) anyway; check the ranking with alpha = 1
    tokens, score = beam_search(step, None, batch_size=1, beam_size=2, max_len=4, length_penalty=1.0,
                                return_all=True)
    assert tokens[0, 0].tolist()[:3] == [3, 4, EOS]


def test_select_rows_on_nested_states_and_errors():
    h, c = torch.arange(6.).reshape(1, 3, 2), torch.arange(6.).reshape(1, 3, 2) + 10   # (layers, B, H)
    out = select_rows({"hc": (h, c), "none": None}, torch.tensor([2, 0]), batch_dim=1)
    assert out["hc"][0][0, :, 0].tolist() == [4.0, 0.0] and out["none"] is None
    with pytest.raises(ConfigError, match="beam_size must be a positive int"):
        beam_search(lambda p, s: (None, s), None, batch_size=1, beam_size=0, max_len=2)
    with pytest.raises(ConfigError, match="tensors in tuples"):
        select_rows(object(), torch.tensor([0]))
