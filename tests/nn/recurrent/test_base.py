"""Heads and truncated BPTT."""

import pytest
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.nn.recurrent.gru import GRU
from deepnets.nn.recurrent.lstm import LSTM
from deepnets.nn.recurrent.base import RecurrentNet, detach_state, truncated_bptt
from deepnets.nn.recurrent.elman import ElmanRNN

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


class Recorder(torch.optim.SGD):
    """SGD that keeps a copy of every gradient it is asked to apply."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.seen = []

    def step(self, closure=None):
        self.seen.append([p.grad.clone() for g in self.param_groups for p in g["params"]])
        return super().step(closure)


def _net(seed=0):
    torch.manual_seed(seed)
    return RecurrentNet(LSTM(2, 4, batch_first=True), 1).double()


def test_truncated_bptt_carries_the_state_and_cuts_the_graph():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 10, 2, generator=g, dtype=D64)
    y = torch.randn(3, 10, 1, generator=g, dtype=D64)
    mse = torch.nn.functional.mse_loss
    net = _net()
    opt = Recorder(net.parameters(), lr=0.0)                 # lr 0: weights stay, grads recorded
    loss, state = truncated_bptt(net, x, y, mse, opt, k=4)
    assert len(opt.seen) == 3                                # chunks of 4, 4, 2 steps
    y_full, state_full = net(x)
    torch.testing.assert_close(loss, mse(y_full, y).item())  # the same forward, chunked
    torch.testing.assert_close(state[0], state_full[0])
    # The second chunk's gradient is BPTT over that chunk only, from the carried state.
    _, s4 = net(x[:, :4])
    net.zero_grad()
    out, _ = net(x[:, 4:8], detach_state(s4))
    mse(out, y[:, 4:8]).backward()
    for p, seen in zip(net.parameters(), opt.seen[1]):
        torch.testing.assert_close(p.grad, seen)
    # ... and differs from the untruncated gradient through all 8 steps.
    net.zero_grad()
    out, _ = net(x[:, :8])
    mse(out[:, 4:], y[:, 4:8]).backward()
    assert any((p.grad - s).abs().max() > 1e-8 for p, s in zip(net.parameters(), opt.seen[1]))


def test_truncated_bptt_with_k_at_least_L_is_one_full_step_and_clips():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 6, 2, generator=g, dtype=D64)
    y = torch.randn(2, 6, 1, generator=g, dtype=D64)
    mse = torch.nn.functional.mse_loss
    a, b = _net(3), _net(3)
    truncated_bptt(a, x, y, mse, torch.optim.SGD(a.parameters(), lr=0.1), k=50)
    opt = torch.optim.SGD(b.parameters(), lr=0.1)
    mse(b(x)[0], y).backward()
    opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)
    c = _net(3)
    rec = Recorder(c.parameters(), lr=0.0)
    truncated_bptt(c, x, y, mse, rec, k=3, max_norm=1e-3)
    for grads in rec.seen:
        assert torch.linalg.vector_norm(torch.stack([gr.norm() for gr in grads])) <= 1e-3 * (1 + 1e-6)


def test_detach_state_and_errors():
    h = torch.ones(2, requires_grad=True) * 2
    out = detach_state((h, (h, h)))
    assert not out[0].requires_grad and not out[1][1].requires_grad
    assert detach_state(None) is None
    net = _net()
    with pytest.raises(DataError, match="share"):
        truncated_bptt(net, torch.zeros(2, 5, 2), torch.zeros(2, 4, 1), None, None, k=2)
    with pytest.raises(ConfigError, match="k"):
        truncated_bptt(net, torch.zeros(2, 5, 2), torch.zeros(2, 5, 1), None, None, k=0)
