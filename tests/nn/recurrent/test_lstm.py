"""The peephole LSTM: the lecture's equations, the hand-written BPTT, equality with torch.nn.LSTM."""

import pytest
import torch
from torch.autograd import gradcheck

from deepnets.data.sequence_tasks import ADDING_BASELINE_MSE, adding_problem
from deepnets.errors import ConfigError, DataError
from deepnets.nn.recurrent.lstm import LSTM, LSTMFunction, lstm_cell, lstm_loop
from deepnets.zoo.recurrent_net import RecurrentNet

D64 = torch.float64


def _args(L, N, I, H, peepholes, seed=0):
    g = torch.Generator().manual_seed(seed)
    def r(*shape, scale=1.0):
        return (scale * torch.randn(*shape, generator=g, dtype=D64)).requires_grad_()
    return [r(L, N, I), r(N, H), r(N, H), r(4 * H, I), r(4 * H, H, scale=0.5), r(4 * H),
            r(3, H) if peepholes else None]


def test_cell_is_the_lecture_equations_written_out():
    # Independent answer: separate matrices per gate and diagonal peephole matrices diag(w).
    g = torch.Generator().manual_seed(1)
    N, I, H = 3, 4, 5
    x, z, c = (torch.randn(N, n, generator=g, dtype=D64) for n in (I, H, H))
    Wx = {k: torch.randn(H, I, generator=g, dtype=D64) for k in "ifco"}
    Wz = {k: torch.randn(H, H, generator=g, dtype=D64) for k in "ifco"}
    b = {k: torch.randn(H, generator=g, dtype=D64) for k in "ifco"}
    w = {k: torch.randn(H, generator=g, dtype=D64) for k in "ifo"}
    col = lambda v: v.t()                                   # samples as the lecture's columns
    s = torch.sigmoid
    i = s(Wx["i"] @ col(x) + Wz["i"] @ col(z) + torch.diag(w["i"]) @ col(c) + b["i"][:, None])
    f = s(Wx["f"] @ col(x) + Wz["f"] @ col(z) + torch.diag(w["f"]) @ col(c) + b["f"][:, None])
    c_new = f * col(c) + i * torch.tanh(Wx["c"] @ col(x) + Wz["c"] @ col(z) + b["c"][:, None])
    o = s(Wx["o"] @ col(x) + Wz["o"] @ col(z) + torch.diag(w["o"]) @ c_new + b["o"][:, None])
    z_new = o * torch.tanh(c_new)
    cat = lambda d: torch.cat([d[k] for k in "ifco"])
    z_ours, c_ours = lstm_cell(x, z, c, cat(Wx), cat(Wz), cat(b),
                               torch.stack([w["i"], w["f"], w["o"]]))
    torch.testing.assert_close(z_ours, z_new.t())
    torch.testing.assert_close(c_ours, c_new.t())


def test_output_gate_sees_the_new_cell_input_and_forget_gates_the_old():
    # With c_0 = 0, w_ic and w_fc cannot change step 1 (they see c_0); w_oc does (it sees c_1).
    x, z0, c0, Wx, Wz, b, p = [a.detach() if a is not None else None for a in _args(1, 2, 3, 4, True)]
    c0 = torch.zeros_like(c0)
    base, _ = lstm_cell(x[0], z0, c0, Wx, Wz, b, p)
    for row, changes in ((0, False), (1, False), (2, True)):
        q = p.clone()
        q[row] += 1.0
        moved = not torch.allclose(lstm_cell(x[0], z0, c0, Wx, Wz, b, q)[0], base)
        assert moved == changes, row


@pytest.mark.parametrize("peepholes", [True, False])
def test_fused_function_passes_gradcheck(peepholes):
    assert gradcheck(LSTMFunction.apply, _args(5, 3, 4, 3, peepholes))


@pytest.mark.parametrize("peepholes", [True, False])
def test_fused_function_equals_autograd_through_the_plain_loop(peepholes):
    args = _args(9, 4, 3, 6, peepholes, seed=2)
    inputs = [a for a in args if a is not None]
    ours, ref = LSTMFunction.apply(*args), lstm_loop(*args)
    g = torch.Generator().manual_seed(3)
    cots = [torch.randn(r.shape, generator=g, dtype=D64) for r in ref]
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b)
    for a, b in zip(torch.autograd.grad(ours, inputs, cots), torch.autograd.grad(ref, inputs, cots)):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("batch_first", [False, True])
def test_without_peepholes_equals_torch_lstm_both_ways(batch_first):
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(3, 5, num_layers=2, batch_first=batch_first).double()
    x = torch.randn(4, 7, 3, dtype=D64, requires_grad=True)
    state = (torch.randn(2, 4 if batch_first else 7, 5, dtype=D64),
             torch.randn(2, 4 if batch_first else 7, 5, dtype=D64))
    ours = LSTM.from_torch(theirs).double()
    back = ours.to_torch().double()
    y_ref, (z_ref, c_ref) = theirs(x, state)
    gx_ref = torch.autograd.grad(y_ref.sum() + c_ref.sum(), x)[0]
    for model in (ours, back):
        y, (z, c) = model(x, state)
        torch.testing.assert_close(y, y_ref)
        torch.testing.assert_close(z, z_ref)
        torch.testing.assert_close(c, c_ref)
        torch.testing.assert_close(torch.autograd.grad(y.sum() + c.sum(), x)[0], gx_ref)


def test_float32_matches_torch_lstm_to_rounding():
    # tanh is computed as 2 sigma(2a) - 1 inside the fused loop; in float32 that stays at rounding.
    torch.manual_seed(2)
    theirs = torch.nn.LSTM(8, 16, num_layers=2)
    x = torch.randn(50, 4, 8)
    torch.testing.assert_close(LSTM.from_torch(theirs)(x)[0], theirs(x)[0], atol=1e-5, rtol=0)


def test_weight_gradients_equal_torch_lstm():
    torch.manual_seed(1)
    theirs = torch.nn.LSTM(4, 6).double()
    ours = LSTM.from_torch(theirs).double()
    x = torch.randn(8, 3, 4, dtype=D64)
    theirs(x)[0].pow(2).sum().backward()
    ours(x)[0].pow(2).sum().backward()
    torch.testing.assert_close(ours.weight_x_l0.grad, theirs.weight_ih_l0.grad)
    torch.testing.assert_close(ours.weight_z_l0.grad, theirs.weight_hh_l0.grad)
    torch.testing.assert_close(ours.bias_l0.grad, theirs.bias_ih_l0.grad)


def test_module_shapes_unbatched_and_errors():
    lstm = LSTM(3, 4, num_layers=2)
    y, (z, c) = lstm(torch.randn(5, 3))                      # unbatched (L, H_in)
    assert y.shape == (5, 4) and z.shape == (2, 4) and c.shape == (2, 4)
    with pytest.raises(DataError, match="shape"):
        lstm(torch.randn(5, 2, 7))
    with pytest.raises(DataError, match="one step"):
        lstm(torch.randn(0, 2, 3))
    with pytest.raises(DataError, match="state"):
        lstm(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(ConfigError, match="hidden_size"):
        LSTM(3, 0)
    with pytest.raises(ConfigError, match="peepholes"):
        LSTM(3, 4).to_torch()


def test_forget_bias_and_seeded_init():
    a = LSTM(3, 4, forget_bias=1.0, generator=torch.Generator().manual_seed(0))
    b = LSTM(3, 4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a.bias_l0[4:8], b.bias_l0[4:8] + 1.0)
    torch.testing.assert_close(a.bias_l0[:4], b.bias_l0[:4])
    assert a.peephole_l0.shape == (3, 4)


def test_no_bias_and_state_gradients_flow():
    lstm = LSTM(2, 3, bias=False).double()
    assert lstm.bias_l0 is None
    z0 = torch.randn(1, 2, 3, dtype=D64, requires_grad=True)
    c0 = torch.randn(1, 2, 3, dtype=D64, requires_grad=True)
    assert gradcheck(lambda z, c: lstm(torch.ones(4, 2, 2, dtype=D64), (z, c))[0], (z0, c0))


@pytest.mark.slow
def test_lstm_solves_the_adding_problem_at_T100():
    # Hochreiter & Schmidhuber (1997): the constant predictor's MSE is 1/6; an LSTM goes far below.
    # About 2000 Adam steps, 1-2 minutes on one CPU thread (seed 0 reached 0.0008 at step 1900).
    g = torch.Generator().manual_seed(0)
    net = RecurrentNet(LSTM(2, 64, batch_first=True, forget_bias=1.0, generator=g), 1,
                       mode="many_to_one")
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    x_test, y_test = adding_problem(1000, 100, generator=torch.Generator().manual_seed(1))
    for step in range(3000):
        x, y = adding_problem(64, 100, generator=g)
        loss = torch.nn.functional.mse_loss(net(x)[0], y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        if step % 250 == 249:
            with torch.no_grad():
                test = torch.nn.functional.mse_loss(net(x_test)[0], y_test).item()
            if test < 0.01:
                break
    assert test < 0.01 < ADDING_BASELINE_MSE
