"""The buffered co-state step gives bit for bit the weights of the unbuffered one (#19)."""

import pytest
import torch

from deepnets import MLP
from deepnets.backprop import costate_backward
from deepnets.losses import get_loss
from deepnets.train.costate_buffers import CostateBuffers
from deepnets.train.optimizers import make_optimizer
from deepnets.train.step import CostateStep


def reference_step(net, opt, loss, x, y):
    """The step before the buffers: costate_backward writing .grad afresh, then Adam."""
    E = costate_backward(net, x, y, loss, validate=True, params=net.flat_params(), overwrite=True)
    opt.step()
    return E


def batches(sizes, classes, n=237, batch=50, dtype=torch.float32):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(n, sizes[0], generator=g, dtype=dtype)
    y = torch.randint(0, sizes[-1], (n,), generator=g) if classes else torch.randn(n, sizes[-1], generator=g,
                                                                                    dtype=dtype)
    return [(x[i:i + batch], y[i:i + batch]) for i in range(0, n, batch)]  # the last one has 37


CASES = [  # sizes, activation, output, loss, bias
    ([8, 16, 5], "relu", "softmax", "cross_entropy", True),
    ([6, 12, 9, 4], "relu", "softmax", "cross_entropy", True),
    ([5, 10, 3], "tanh", "linear", "lms", True),
    ([5, 10, 7, 1], "logistic", "logistic", "cross_entropy", True),
    ([5, 10, 3], "leaky_relu:0.1", "linear", "lms", False),
    ([5, 10, 3], "lecun_tanh", "softmax", "cross_entropy", True),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("sizes, act, out, lossname, bias", CASES)
def test_buffered_step_equals_unbuffered(sizes, act, out, lossname, bias, dtype, monkeypatch):
    """The torch path (the fused Numba kernels off: tests/train/test_costate_fused.py compares them)."""
    monkeypatch.setenv("DEEPNETS_NO_NUMBA", "1")
    nets = [MLP(sizes, activation=act, output=out, bias=bias, seed=1, dtype=dtype) for _ in range(2)]
    opts = [make_optimizer("adam", n, lr=1e-2) for n in nets]
    loss = get_loss(lossname, model=nets[0])
    step = CostateStep(nets[0], opts[0], loss)
    classes = lossname == "cross_entropy" and out == "softmax"
    for epoch in range(3):
        for b, (x, y) in enumerate(batches(sizes, classes, dtype=dtype)):
            if not classes and out == "logistic":
                y = (y > 0).to(dtype)
            E = step((x, y), b)
            E_ref = reference_step(nets[1], opts[1], loss, x, y)
            assert torch.equal(E, E_ref), (epoch, b)
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(p, q)
        assert torch.equal(p.grad, q.grad)


def test_buffers_are_kept_per_batch_size_and_reused():
    net = MLP([4, 8, 8, 3], activation="relu", output="softmax", seed=0)
    loss = get_loss("cross_entropy", model=net)
    step = CostateStep(net, make_optimizer("adam", net, lr=1e-3), loss)
    data = batches([4, 8, 8, 3], True, n=130, batch=50)   # 50, 50, 30
    step(data[0], 0)
    first = [t.data_ptr() for t in step.buffered.buffers[(50, torch.float32, torch.device("cpu"), False)][0]]
    for b, batch in enumerate(data):
        step(batch, b)
    assert sorted(k[0] for k in step.buffered.buffers) == [30, 50]
    assert [t.data_ptr() for t in step.buffered.buffers[(50, torch.float32, torch.device("cpu"), False)][0]] == first


def test_frozen_layer_gets_no_gradient_and_the_others_match(monkeypatch):
    monkeypatch.setenv("DEEPNETS_NO_NUMBA", "1")  # the torch path, bit for bit
    nets = [MLP([5, 9, 3], activation="relu", output="softmax", seed=2) for _ in range(2)]
    for n in nets:
        n.layers[0].weight.requires_grad_(False)
    x, y = batches([5, 9, 3], True)[0]
    loss = get_loss("cross_entropy", model=nets[0])
    E = CostateBuffers(nets[0].flat_params(), nets[0].activations, loss).gradients(x, y)
    E_ref = costate_backward(nets[1], x, y, loss, overwrite=True)
    assert torch.equal(E, E_ref)
    assert nets[0].layers[0].weight.grad is None
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        assert (p.grad is None and q.grad is None) or torch.equal(p.grad, q.grad)


def test_gradient_matches_autograd():
    """Independent of the recursion: autograd through a plain torch forward pass."""
    net = MLP([5, 7, 4], activation="tanh", output="softmax", seed=0, dtype=torch.float64)
    x, y = batches([5, 7, 4], True, dtype=torch.float64)[0]
    loss = get_loss("cross_entropy", model=net)
    CostateBuffers(net.flat_params(), net.activations, loss).gradients(x, y)
    W1, b1, W2, b2 = (p.detach().clone().requires_grad_(True) for p in net.flat_params())
    logits = torch.tanh(x @ W1.t() + b1) @ W2.t() + b2
    torch.nn.functional.cross_entropy(logits, y).backward()
    for p, ref in zip(net.flat_params(), (W1, b1, W2, b2)):
        torch.testing.assert_close(p.grad, ref.grad, rtol=1e-12, atol=1e-12)
