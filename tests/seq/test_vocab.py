import pytest
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.seq.vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocab


def test_build_orders_by_count_and_round_trips():
    v = Vocab.build(["hello", "help"], min_count=1)       # characters
    assert v.tokens[:4] == list(SPECIALS)
    assert v.tokens[4:7] == ["l", "h", "e"]                # l x3, then h, e x2 in order of appearance
    ids = v.encode("hello", bos=True, eos=True)
    assert ids[0] == BOS and ids[-1] == EOS and len(ids) == 7
    assert "".join(v.decode(ids)) == "hello"
    assert Vocab.from_dict(v.to_dict()).tokens == v.tokens
    assert Vocab.build(["aab"], min_count=2).tokens[4:] == ["a"]
    assert len(Vocab.build(["abcabc"], max_size=2)) == 6


def test_unknown_tokens_and_decoding_stops():
    v = Vocab(["x", "y"])
    assert v.encode(["x", "q"]) == [4, UNK]
    with pytest.raises(DataError, match="'q' is not in the vocabulary"):
        v.encode(["q"], unknown="error")
    assert v.decode(torch.tensor([BOS, 4, PAD, 5, EOS, 4])) == ["x", "y"]
    with pytest.raises(DataError, match="id 9 is outside"):
        v.decode([9])


def test_pad_batch_and_bad_vocabularies():
    v = Vocab(["x"])
    batch, lengths = v.pad_batch([[4], [4, 4, 4], []])
    assert batch.tolist() == [[4, 0, 0], [4, 4, 4], [0, 0, 0]] and lengths.tolist() == [1, 3, 0]
    with pytest.raises(ConfigError, match="reserved"):
        Vocab(["<eos>"])
    with pytest.raises(ConfigError, match="distinct"):
        Vocab(["a", "a"])
