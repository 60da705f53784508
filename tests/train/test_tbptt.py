"""Truncated BPTT: the state carries over chunks, the graph does not."""

import pytest
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.nn.recurrent import LSTM, detach_state
from deepnets.train.tbptt import truncated_bptt
from deepnets.zoo.recurrent_net import RecurrentNet

D64 = torch.float64


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


def test_truncated_bptt_errors():
    net = _net()
    with pytest.raises(DataError, match="share"):
        truncated_bptt(net, torch.zeros(2, 5, 2), torch.zeros(2, 4, 1), None, None, k=2)
    with pytest.raises(ConfigError, match="k"):
        truncated_bptt(net, torch.zeros(2, 5, 2), torch.zeros(2, 5, 1), None, None, k=0)
