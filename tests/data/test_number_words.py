import pytest

from deepnets.data.number_words import number_words, numbers_to_words
from deepnets.errors import ConfigError
from deepnets.seq.vocab import BOS, EOS

# written out by hand
CASES = {0: "zero", 7: "seven", 13: "thirteen", 20: "twenty", 21: "twenty one", 100: "one hundred",
         101: "one hundred one", 110: "one hundred ten", 1000: "one thousand", 1010: "one thousand ten",
         100_000: "one hundred thousand", 305_019: "three hundred five thousand nineteen",
         999_999: "nine hundred ninety nine thousand nine hundred ninety nine",
         1_000_000: "one million", 2_000_017: "two million seventeen",
         12_000_300_001: "twelve billion three hundred thousand one"}


@pytest.mark.parametrize("n,text", CASES.items())
def test_number_words_by_hand(n, text):
    assert " ".join(number_words(n)) == text


def test_splits_are_disjoint_reproducible_and_encodable():
    d = numbers_to_words(300, 100, n_valid=50, seed=3)
    numbers = {k: {"".join(s) for s, _ in v} for k, v in d.pairs.items()}
    assert {k: len(v) for k, v in numbers.items()} == {"train": 300, "valid": 50, "test": 100}
    assert not (numbers["train"] & numbers["test"]) and not (numbers["valid"] & numbers["test"])
    assert numbers_to_words(300, 100, n_valid=50, seed=3).pairs == d.pairs
    src, tgt = d.tensors("test")
    assert src.shape[0] == tgt.shape[0] == 100 and (tgt[:, 0] == BOS).all()
    for row in range(100):     # every word is in the vocabulary and decodes back
        s, t = d.pairs["test"][row]
        assert d.tgt_vocab.decode(tgt[row]) == t and d.src_vocab.decode(src[row]) == s
        assert EOS in tgt[row].tolist()


def test_errors():
    with pytest.raises(ConfigError, match="distinct numbers"):
        numbers_to_words(10, 5, max_value=9)
    with pytest.raises(ConfigError, match=r"\[0, 10\^12\)"):
        number_words(-1)
    with pytest.raises(ConfigError, match="unknown split 'dev'"):
        numbers_to_words(2, 2).tensors("dev")
