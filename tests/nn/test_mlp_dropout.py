"""MLP(dropout=q): inverted dropout on the hidden layers only, q the DROP probability.

Checked against a hand-written autograd reference with the same Bernoulli masks (float64), the
q = 0 path against a net built without the argument (bit for bit), eval mode against the plain
forward pass, and an interrupted run with dropout against the uninterrupted one (exact resume)."""

import pytest
import torch
import torch.nn.functional as F

from deepnets import MLP, fit
from deepnets.errors import ConfigError
from deepnets.nn import supports_costate
from deepnets.train.callbacks import Checkpointer
from deepnets.train.checkpoint import CheckpointManager
from deepnets.train.step import step_kind

F64 = torch.float64


def _data(n=24, d=3, k=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=F64)
    return x, torch.stack([x[:, 0] * x[:, 1], torch.sin(x[:, 2])], 1)[:, :k]


def _reference_sgd(weights, x, y, q, *, lr, epochs, batch, seed):
    """Plain autograd: z = tanh(W z + b) ∘ m / (1 − q) on the hidden layers, m = [u < 1 − q] with
    u ~ U(0, 1) drawn layer by layer from torch's global generator seeded by ``seed``; MSE cost;
    w ← w − lr ∂E/∂w. Returns the final [W1, b1, W2, b2, ...]."""
    ws = [w.detach().clone().requires_grad_(True) for w in weights]
    L = len(ws) // 2
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in range(epochs):
            for i in range(0, len(x), batch):
                z = x[i:i + batch]
                for l in range(L):
                    z = F.linear(z, ws[2 * l], ws[2 * l + 1])
                    if l < L - 1:
                        z = torch.tanh(z)
                        keep = torch.rand(z.shape, dtype=z.dtype) < 1 - q
                        z = z * keep / (1 - q)
                E = F.mse_loss(z, y[i:i + batch])
                grads = torch.autograd.grad(E, ws)
                with torch.no_grad():
                    for w, g in zip(ws, grads):
                        w -= lr * g
    return ws


def test_fit_with_dropout_equals_the_autograd_reference_with_the_same_masks():
    x, y = _data()
    q = 0.4
    net = MLP([3, 6, 5, 2], activation="tanh", output="linear", seed=0, dtype=F64, dropout=q)
    start = [p.detach().clone() for p in net.flat_params()]
    fit(net, (x, y), loss=F.mse_loss, optimizer="sgd", lr=0.1, epochs=2, batch_size=8, shuffle=False,
        seed=7)
    want = _reference_sgd(start, x, y, q, lr=0.1, epochs=2, batch=8, seed=7)
    for got, ref in zip(net.flat_params(), want):
        torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)
    # and the masks mattered: the same run without dropout ends elsewhere
    plain = _reference_sgd(start, x, y, 0.0, lr=0.1, epochs=2, batch=8, seed=7)
    assert not torch.allclose(plain[0], want[0], atol=1e-6)


def test_q_zero_is_bit_identical_to_a_net_built_without_the_argument():
    x, y = _data(n=40)
    a = MLP([3, 8, 8, 2], activation="tanh", seed=3)
    b = MLP([3, 8, 8, 2], activation="tanh", seed=3, dropout=0.0)
    assert repr(a) == repr(b) and list(a.state_dict()) == list(b.state_dict())
    assert supports_costate(b)  # the co-state fast path, as before
    for net in (a, b):
        fit(net, (x.float(), y.float()), loss="lms", optimizer="adam", lr=0.01, epochs=3, batch_size=8,
            seed=2, input_noise=0.01)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_only_hidden_units_are_dropped_with_inverted_scaling():
    # identity units, W(1) = I, W(2) = I, no biases: a hidden unit passes its input scaled by
    # m / (1 − q); the input and the output are never dropped
    q, n, d = 0.25, 4000, 5
    net = MLP([d, d, d], activation="identity", output="linear", bias=False, dropout=q, dtype=F64)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.copy_(torch.eye(d, dtype=F64))
    x = torch.ones(n, d, dtype=F64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        out = net(x)
        torch.manual_seed(5)
        keep = (torch.rand(n, d, dtype=F64) < 1 - q).to(F64)
    assert torch.equal(out, keep / (1 - q))  # the mask of the one hidden layer, nothing else
    assert set(out.unique().tolist()) == {0.0, 1 / (1 - q)}
    assert abs((out == 0).double().mean().item() - q) < 5 * (q * (1 - q) / (n * d)) ** 0.5
    net.eval()
    assert torch.equal(net(x), x)  # eval: the identity


def test_eval_mode_is_the_plain_network_and_the_costate_path():
    x = torch.randn(10, 4)
    a = MLP([4, 7, 3], output="softmax", seed=1)
    b = MLP([4, 7, 3], output="softmax", seed=1, dropout=0.5)
    assert not supports_costate(b)
    assert step_kind(b, torch.optim.SGD(b.parameters(), lr=0.1), F.mse_loss) == "autograd"
    b.eval()
    assert supports_costate(b)
    assert torch.equal(a(x), b(x))
    assert torch.equal(a.logit_view()(x), b.logit_view().eval()(x))
    b.train()
    view = b.logit_view()  # shares the weights and the dropout: softmax(view) is b with the same masks
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        dropped = view(x)
        torch.manual_seed(0)
        torch.testing.assert_close(torch.softmax(dropped, 1), b(x))
    assert not torch.allclose(dropped, a.logit_view()(x))


@pytest.mark.parametrize("q", [1.0, -0.1, 1.5, True, "0.5", None])
def test_a_drop_probability_outside_0_1_is_refused(q):
    with pytest.raises(ConfigError, match=r"dropout is the probability of dropping a hidden unit: expected a "
                                          r"number in \[0, 1\), got"):
        MLP([2, 3, 1], dropout=q)


def _resumable_run(run=None, resume=False, every_steps=0):
    x, y = _data(n=50, seed=4)
    net = MLP([3, 16, 16, 2], activation="relu", seed=1, dropout=0.3)
    callbacks = []
    if run is not None:
        callbacks.append(Checkpointer(run, every_steps=every_steps, every_epochs=0, keep=20, resume=resume,
                                      background=False))  # every save written: the test picks step 10
    hist = fit(net, (x.float(), y.float()), loss="lms", optimizer="adam", lr=0.01, epochs=3, batch_size=8,
               seed=3, callbacks=callbacks)
    return net, hist


def test_a_run_with_dropout_resumes_exactly_from_a_mid_epoch_checkpoint(tmp_path):
    full, full_hist = _resumable_run()
    run = tmp_path / "run"
    _resumable_run(run, every_steps=5)  # 7 batches an epoch: step 10 is mid-epoch 2
    mgr = CheckpointManager(run)
    info = [i for i in mgr.list() if mgr.load(i.name)["step"] == 10][0]
    torch.manual_seed(123)  # the global generator elsewhere: the checkpoint must put it back
    net, hist = _resumable_run(run, resume=mgr.load(info.name))
    for a, b in zip(full.parameters(), net.parameters()):
        assert torch.equal(a, b)
    assert hist.history["loss"] == full_hist.history["loss"]


def test_a_hinted_mlp_drops_every_hidden_layer_with_the_same_masks():
    from deepnets.train.hints import HintedModel
    q, x = 0.5, torch.randn(6, 3, dtype=F64)
    net = MLP([3, 5, 4, 2], activation="tanh", output="linear", seed=0, dtype=F64, dropout=q)
    hinted = HintedModel(net, 1, seed=1).train()
    W1, b1, W2, b2, W3, b3 = net.flat_params()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(2)
        got = hinted(x)
        torch.manual_seed(2)
        h = torch.tanh(F.linear(x, W1, b1))
        h = h * (torch.rand(h.shape, dtype=F64) < 1 - q) / (1 - q)
        h = torch.tanh(F.linear(h, W2, b2))
        h = h * (torch.rand(h.shape, dtype=F64) < 1 - q) / (1 - q)  # ẑ(L−1): feeds both heads
        want = torch.cat([F.linear(h, W3, b3), F.linear(h, hinted.hint.weight, hinted.hint.bias)], 1)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-14)
