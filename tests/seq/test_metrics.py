"""Sequence metrics: bits per character by hand and chunked, caption exact match and BLEU."""

import pytest
import torch

from deepnets.data.text_corpus import stream_batches
from deepnets.errors import ConfigError, DataError
from deepnets.seq.metrics import bits_per_char, caption_scores, evaluate_bpc
from deepnets.zoo.char_lm import CharLM


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


def test_caption_scores_accept_either_reference():
    refs = [[["a", "red", "circle", "above", "a", "blue", "square"],
             ["a", "blue", "square", "below", "a", "red", "circle"]], [["a", "green", "triangle"]]]
    got = caption_scores([refs[0][1], ["a", "green", "circle"]], refs)
    assert got["exact_match"] == 0.5 and 0.0 < got["bleu"] < 1.0


def test_errors():
    lm = CharLM(6, hidden_size=4)
    with pytest.raises(ConfigError, match="k"):
        evaluate_bpc(lm, torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 5, dtype=torch.long), k=0)
    with pytest.raises(DataError, match="x and y"):
        evaluate_bpc(lm, torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(DataError, match="one reference set"):
        caption_scores([["a"]], [])
