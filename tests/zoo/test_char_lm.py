"""The character language model: bits per character, chunked evaluation, overfitting, sampling."""

import math

import pytest
import torch
import torch.nn.functional as F

from deepnets.data.text_corpus import stream_batches
from deepnets.errors import ConfigError, DataError
from deepnets.nn.char_lm import CharLM, bits_per_char, evaluate_bpc, sample
from deepnets.train.tbptt import truncated_bptt
from deepnets.seq.vocab import SPECIALS, Vocab


def test_bits_per_char_by_hand():
    assert bits_per_char(torch.zeros(3, 5, 8), torch.zeros(3, 5, dtype=torch.long)).item() == pytest.approx(3.0)
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]], dtype=torch.float64))
    # -log2 0.5 = 1 bit, -log2 0.25 = 2 bits: mean 1.5
    assert bits_per_char(logits, torch.tensor([0, 1])).item() == pytest.approx(1.5, abs=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru", "elman"])
def test_chunked_evaluation_equals_one_pass(cell):
    torch.manual_seed(0)
    lm = CharLM(12, embed_size=5, hidden_size=7, cell=cell).double()
    ids = torch.randint(4, 12, (301,))
    x, y = stream_batches(ids, 3)                            # (3, 100)
    one_pass = bits_per_char(lm(x)[0], y).item()
    assert evaluate_bpc(lm, x, y, k=13) == pytest.approx(one_pass, rel=1e-12)


def test_seeded_models_are_identical():
    a = CharLM(10, hidden_size=6, generator=torch.Generator().manual_seed(4))
    b = CharLM(10, hidden_size=6, generator=torch.Generator().manual_seed(4))
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def _overfit(text, *, epochs=10):
    torch.manual_seed(0)
    vocab = Vocab(sorted(set(text)))
    ids = torch.tensor(vocab.encode(text))
    x, y = stream_batches(ids, 4)
    lm = CharLM(len(vocab), embed_size=8, hidden_size=32, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(lm.parameters(), lr=0.02)
    loss_fn = lambda s, t: F.cross_entropy(s.reshape(-1, s.shape[-1]), t.reshape(-1))
    for _ in range(epochs):
        truncated_bptt(lm, x, y, loss_fn, opt, k=16, max_norm=1.0)
    return lm, vocab, x, y


def test_tiny_lm_memorises_a_repeated_string_and_greedy_sampling_continues_it():
    unit = "the cat sat on the mat. "
    lm, vocab, x, y = _overfit(unit * 40)
    assert evaluate_bpc(lm, x, y) < 0.05                     # from log2(V) = 3.9 bits
    prompt = "the cat sat on"
    expected = (unit * 3)[len(prompt):len(prompt) + 40]
    assert sample(lm, vocab, prompt, 40, temperature=0) == expected


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


def test_errors():
    vocab = Vocab(list("ab"))
    lm = CharLM(len(vocab), hidden_size=4)
    with pytest.raises(ConfigError):
        sample(lm, vocab, "", 3)
    with pytest.raises(DataError):
        sample(lm, vocab, "abz", 3)
    with pytest.raises(ConfigError):
        sample(lm, vocab, "a", -1)
    with pytest.raises(DataError):
        lm(torch.zeros(2, 3))
    with pytest.raises(ConfigError):
        CharLM(5, cell="transformer")
