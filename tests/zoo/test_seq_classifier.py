"""Many-to-one sequence classifiers, checked against torch's own (bidirectional) GRU and LSTM."""

import pytest
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.zoo.seq_classifier import SequenceClassifier, sequence_classifier


def _torch_bidirectional(ours: SequenceClassifier, cls):
    """torch's bidirectional module holding our forward and backward cores' weights."""
    fwd, bwd = ours.forward_core.to_torch(), ours.backward_core.to_torch()
    theirs = cls(fwd.input_size, fwd.hidden_size, batch_first=True, bidirectional=True).double()
    with torch.no_grad():
        for name, p in fwd.named_parameters():
            getattr(theirs, name).copy_(p)
            getattr(theirs, name + "_reverse").copy_(dict(bwd.named_parameters())[name])
    return theirs


@pytest.mark.parametrize("kind, cls, options", [("gru", torch.nn.GRU, {"reset_after": True}),
                                                ("lstm", torch.nn.LSTM, {"peepholes": False})])
@pytest.mark.parametrize("readout", ["last", "all"])
def test_bidirectional_classifier_equals_torch_bidirectional_core(kind, cls, options, readout):
    torch.manual_seed(0)
    N, L, C, H, K = 5, 9, 2, 4, 3
    net = SequenceClassifier(kind, L, K, C, hidden_size=H, bidirectional=True, readout=readout,
                             **options).double()
    theirs = _torch_bidirectional(net, cls)
    x = torch.randn(N, C, L, dtype=torch.float64)            # channels first, as ToImage gives
    out, h_n = theirs(x.transpose(1, 2))                      # (N, L, 2H); h_n (2, N, H) or (h, c)
    h_n = h_n[0] if isinstance(h_n, tuple) else h_n
    # torch's backward direction ends at t = 1: its h_n[1] is our z_1 of the backward core
    features = torch.cat([h_n[0], h_n[1]], 1) if readout == "last" else out.flatten(1)
    expected = net.head(features)                             # (N, 2H or 2 L H) x (., K)
    torch.testing.assert_close(net(x), expected)


def test_last_readout_is_the_lecture_many_to_one_head():
    torch.manual_seed(1)
    net = SequenceClassifier("elman", 6, 4, hidden_size=5)
    x = torch.randn(3, 6)
    Z, z_L = net.forward_core(x.unsqueeze(2))                 # (3, 6, 5), (1, 3, 5)
    torch.testing.assert_close(net(x), z_L[0] @ net.head.weight.t() + net.head.bias)
    torch.testing.assert_close(net(x), net(x.unsqueeze(1)))  # (N, L) rows == (N, 1, L) sequences


def test_peephole_lstm_kind_and_weight_counts():
    net = sequence_classifier("lstm", 40, 10, hidden_size=8, forget_bias=1.0)
    # 4H x (1 + H + 1) gate weights and biases + 3H peepholes + (H + 1) x 10 head
    assert sum(p.numel() for p in net.parameters()) == 4 * 8 * 10 + 3 * 8 + 9 * 10
    torch.testing.assert_close(net.forward_core.bias_l0[8:16].mean(), torch.tensor(1.0), atol=1 / 8 ** 0.5,
                               rtol=0)
    assert net(torch.zeros(2, 40)).shape == (2, 10)


def test_user_mistakes_name_what_was_expected():
    with pytest.raises(ConfigError, match="unknown recurrent core 'transformer'"):
        SequenceClassifier("transformer", 40)
    with pytest.raises(ConfigError, match="unknown readout 'mean'"):
        SequenceClassifier("gru", 40, readout="mean")
    with pytest.raises(ConfigError, match="options for the gru core"):
        SequenceClassifier("gru", 40, peepholes=False)
    with pytest.raises(ConfigError, match="hidden_size"):
        SequenceClassifier("gru", 40, hidden_size=0)
    net = SequenceClassifier("gru", 40, hidden_size=3, readout="all")
    with pytest.raises(DataError, match="length 40, got 39"):
        net(torch.zeros(2, 39))
    with pytest.raises(DataError, match=r"\(N, 1, 40\)"):
        net(torch.zeros(2, 3, 40))
