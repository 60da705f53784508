"""The Elman RNN against its equation and torch.nn.RNN."""

import pytest
import torch
from torch.autograd import gradcheck

from deepnets.errors import ConfigError, DataError
from deepnets.nn.recurrent.elman import ElmanRNN

D64 = torch.float64


def test_two_layers_are_the_equation_with_separate_weights():
    rnn = ElmanRNN(2, 3, num_layers=2, bias=False).double()
    x = torch.randn(4, 1, 2, dtype=D64)
    z = [torch.zeros(3, dtype=D64), torch.zeros(3, dtype=D64)]
    for t in range(4):
        z[0] = torch.tanh(rnn.weight_z_l0 @ z[0] + rnn.weight_x_l0 @ x[t, 0])
        z[1] = torch.tanh(rnn.weight_z_l1 @ z[1] + rnn.weight_x_l1 @ z[0])
    y, z_L = rnn(x)
    torch.testing.assert_close(y[-1, 0], z[1])
    torch.testing.assert_close(z_L[:, 0], torch.stack(z))


@pytest.mark.parametrize("batch_first", [False, True])
def test_equals_torch_rnn_both_ways(batch_first):
    torch.manual_seed(0)
    theirs = torch.nn.RNN(3, 4, num_layers=2, batch_first=batch_first).double()
    ours = ElmanRNN.from_torch(theirs).double()
    back = ours.to_torch().double()
    x = torch.randn(5, 6, 3, dtype=D64)
    y_ref, h_ref = theirs(x)
    for model in (ours, back):
        y, h = model(x)
        torch.testing.assert_close(y, y_ref)
        torch.testing.assert_close(h, h_ref)


def test_gradcheck_and_errors():
    rnn = ElmanRNN(2, 3).double()
    x = torch.randn(4, 2, 2, dtype=D64, requires_grad=True)
    assert gradcheck(lambda x: rnn(x)[0], (x,))
    with pytest.raises(DataError, match="state"):
        rnn(x, torch.zeros(2, 2, 3, dtype=D64))
    with pytest.raises(ConfigError, match="tanh"):
        ElmanRNN.from_torch(torch.nn.RNN(2, 3, nonlinearity="relu"))
    with pytest.raises(ConfigError, match="dropout"):
        ElmanRNN(2, 3, dropout=1.5)
