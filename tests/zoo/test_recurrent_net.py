"""RecurrentNet's heads read the same states."""

import pytest
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.nn.recurrent import GRU, LSTM, ElmanRNN
from deepnets.zoo.recurrent_net import RecurrentNet

D64 = torch.float64


@pytest.mark.parametrize("core", [ElmanRNN, LSTM, GRU])
def test_heads_read_the_same_states(core):
    torch.manual_seed(0)
    net = RecurrentNet(core(3, 5, batch_first=True), 2).double()
    x = torch.randn(4, 6, 3, dtype=D64)
    y_all, _ = net(x)
    assert y_all.shape == (4, 6, 2)
    net.mode = "many_to_one"
    torch.testing.assert_close(net(x)[0], y_all[:, -1])
    net.mode = "one_to_many"
    seq = torch.zeros(4, 3, 3, dtype=D64)
    seq[:, 0] = x[:, 0]
    net.mode = "many_to_many"
    expected = net(seq)[0]
    net.mode = "one_to_many"
    torch.testing.assert_close(net(x[:, 0], steps=3)[0], expected)


def test_head_errors():
    with pytest.raises(ConfigError, match="mode"):
        RecurrentNet(LSTM(2, 3, batch_first=True), 1, mode="many_to_few")
    with pytest.raises(ConfigError, match="batch_first"):
        RecurrentNet(LSTM(2, 3), 1)
    net = RecurrentNet(LSTM(2, 3, batch_first=True), 1, mode="one_to_many")
    with pytest.raises(ConfigError, match="steps"):
        net(torch.zeros(4, 2))
    with pytest.raises(DataError, match="one input vector"):
        net(torch.zeros(4, 5, 2), steps=3)
