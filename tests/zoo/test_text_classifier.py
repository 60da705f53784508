"""Padding-aware many-to-one classification: the last real state, as if each row ran alone."""

import pytest
import torch

from deepnets.errors import ConfigError
from deepnets.errors import DataError
from deepnets.nn.recurrent import CORES, build_core
from deepnets.seq.vocab import PAD, Vocab
from deepnets.zoo.text_classifier import TextClassifier, last_step


@pytest.mark.parametrize("cell", sorted(CORES))
def test_padded_batch_equals_each_sequence_alone(cell):
    torch.manual_seed(0)
    clf = TextClassifier(20, 3, embed_size=5, hidden_size=6, num_layers=2, cell=cell).double()
    seqs = [torch.randint(4, 20, (n,)).tolist() for n in (7, 1, 4, 7, 2)]
    ids, lengths = Vocab([str(i) for i in range(16)]).pad_batch(seqs)
    batched = clf(ids, lengths)                               # (5, 3)
    alone = torch.cat([clf(torch.tensor([s]), torch.tensor([len(s)])) for s in seqs])
    torch.testing.assert_close(batched, alone, rtol=1e-12, atol=1e-12)
    # what the padding holds cannot matter, and reading z_{L_max} instead would differ
    noisy = ids.clone()
    noisy[ids == PAD] = 5
    torch.testing.assert_close(clf(noisy, lengths), batched, rtol=1e-12, atol=1e-12)
    z, _ = clf.core(clf.embed(ids))
    assert not torch.allclose(clf.readout(z[:, -1]), batched)


def test_last_step_and_its_errors():
    out = torch.randn(3, 4, 2)
    torch.testing.assert_close(last_step(out, torch.tensor([4, 1, 2])), out[[0, 1, 2], [3, 0, 1]])
    for bad in (torch.tensor([0, 1, 2]), torch.tensor([5, 1, 2]), torch.tensor([1, 2]),
                torch.tensor([1.0, 2.0, 3.0])):
        with pytest.raises(DataError):
            last_step(out, bad)


def test_pad_embedding_is_zero_and_core_registry():
    clf = TextClassifier(10, 2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(clf.embed.weight[PAD], torch.zeros(32))
    with pytest.raises(ConfigError, match="unknown recurrent cell"):
        build_core("lstn", 3, 4)
