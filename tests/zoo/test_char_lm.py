"""The character language model: seeded initialisation, overfitting a string, greedy continuation."""

import pytest
import torch
import torch.nn.functional as F

from deepnets.data.text_corpus import stream_batches
from deepnets.errors import ConfigError, DataError
from deepnets.seq.metrics import evaluate_bpc
from deepnets.seq.sampling import sample
from deepnets.seq.vocab import Vocab
from deepnets.train.tbptt import truncated_bptt
from deepnets.zoo.char_lm import CharLM


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


def test_errors():
    lm = CharLM(4, hidden_size=4)
    with pytest.raises(DataError):
        lm(torch.zeros(2, 3))
    with pytest.raises(ConfigError):
        CharLM(5, cell="transformer")
