"""The whole co-state step as one Numba call (costate_whole) against autograd and the fused step (#19)."""

import pytest
import torch

from deepnets import MLP, fit
from deepnets.errors import ConfigError
from deepnets.losses import get_loss
from deepnets.train import costate_whole
from deepnets.train.costate_buffers import CostateBuffers

pytestmark = pytest.mark.skipif(not __import__("deepnets._numba")._numba.available(),
                                reason="Numba is off here (DEEPNETS_NO_NUMBA)")

UNITS = {"relu": torch.relu, "tanh": torch.tanh, "logistic": torch.sigmoid, "linear": lambda a: a}
TERMINALS = [("softmax", "cross_entropy"), ("logistic", "cross_entropy"), ("linear", "lms")]


def data(sizes, out, n, dtype, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, sizes[0], generator=g, dtype=dtype)
    if out == "softmax":
        y = torch.randint(0, sizes[-1], (n,), generator=g)
    elif out == "logistic":
        y = (torch.randn(n, 1, generator=g) > 0).to(dtype)
    else:
        y = torch.randn(n, sizes[-1], generator=g, dtype=dtype)
    return x, y


def autograd(net, act, out, x, y):
    """E and every gradient by autograd through a plain torch forward pass and torch's own costs."""
    ref = [None if p is None else p.detach().clone().requires_grad_(p.requires_grad) for p in net.flat_params()]
    a = x
    for l in range(len(ref) // 2):
        a = a @ ref[2 * l].t() + (0 if ref[2 * l + 1] is None else ref[2 * l + 1])
        if l < len(ref) // 2 - 1:
            a = UNITS[act](a)
    if out == "softmax":
        E = torch.nn.functional.cross_entropy(a, y)
    elif out == "logistic":
        E = torch.nn.functional.binary_cross_entropy_with_logits(a, y)
    else:
        E = 0.5 * ((a - y) ** 2).sum(1).mean()
    E.backward()
    return E.detach(), [None if r is None else r.grad for r in ref]


def whole_buffers(net, lossname, x):
    """CostateBuffers for ``net``, with the whole-step kernel planned for ``x``'s batch size (or not)."""
    buffered = CostateBuffers(net.flat_params(), net.activations, get_loss(lossname, model=net))
    assert buffered.fused is not None
    return buffered, buffered._buffers(x)[3][8]


@pytest.mark.parametrize("act", list(UNITS))
@pytest.mark.parametrize("out, lossname", TERMINALS)
@pytest.mark.parametrize("hidden", [[7, 6], [9], []])
def test_the_whole_step_is_autograd_in_float64(act, out, lossname, hidden, monkeypatch):
    sizes = [5, *hidden, 1 if out == "logistic" else 3]
    net = MLP(sizes, activation=act, output=out, seed=0, dtype=torch.float64)
    x, y = data(sizes, out, 23, torch.float64)
    buffered, whole = whole_buffers(net, lossname, x)
    assert whole is not None
    calls = []
    monkeypatch.setattr(whole, "run", lambda *a, _run=whole.run: calls.append(1) or _run(*a))
    E = buffered.gradients(x, y)
    assert calls                                  # the step ran as the one call
    E_ref, grads = autograd(net, act, out, x, y)
    torch.testing.assert_close(E, E_ref, rtol=1e-12, atol=1e-12)
    for p, g in zip(net.flat_params(), grads):
        torch.testing.assert_close(p.grad, g, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("frozen_bias", [False, True])
def test_biases_absent_or_frozen(frozen_bias):
    sizes = [4, 8, 6, 3]
    net = MLP(sizes, activation="tanh", output="softmax", bias=frozen_bias, seed=2, dtype=torch.float64)
    if frozen_bias:
        net.layers[1].bias.requires_grad_(False)
    x, y = data(sizes, "softmax", 17, torch.float64)
    buffered, whole = whole_buffers(net, "cross_entropy", x)
    assert whole is not None
    E = buffered.gradients(x, y)
    E_ref, grads = autograd(net, "tanh", "softmax", x, y)
    torch.testing.assert_close(E, E_ref, rtol=1e-12, atol=1e-12)
    for p, g in zip(net.flat_params(), grads):
        if p is not None and p.requires_grad:
            torch.testing.assert_close(p.grad, g, rtol=1e-12, atol=1e-12)
        elif p is not None:
            assert p.grad is None


def test_a_frozen_weight_keeps_the_fused_step():
    sizes = [4, 8, 3]
    net = MLP(sizes, activation="relu", output="softmax", seed=2, dtype=torch.float64)
    net.layers[0].weight.requires_grad_(False)
    x, y = data(sizes, "softmax", 11, torch.float64)
    buffered, whole = whole_buffers(net, "cross_entropy", x)
    assert whole is None                          # decided once for this batch size
    E = buffered.gradients(x, y)
    E_ref, grads = autograd(net, "relu", "softmax", x, y)
    torch.testing.assert_close(E, E_ref, rtol=1e-12, atol=1e-12)
    assert net.layers[0].weight.grad is None
    for p, g in list(zip(net.flat_params(), grads))[1:]:
        torch.testing.assert_close(p.grad, g, rtol=1e-12, atol=1e-12)


def test_wide_nets_keep_torchs_gemms(monkeypatch):
    """The shape rule: a layer wider than MAX_WIDTH keeps the fused step (MKL's GEMMs)."""
    monkeypatch.setattr(costate_whole, "MAX_WIDTH", 8)
    net = MLP([4, 9, 3], activation="relu", output="softmax", seed=2, dtype=torch.float64)
    x, y = data([4, 9, 3], "softmax", 5, torch.float64)
    assert whole_buffers(net, "cross_entropy", x)[1] is None
    net = MLP([4, 8, 3], activation="relu", output="softmax", seed=2, dtype=torch.float64)
    assert whole_buffers(net, "cross_entropy", x)[1] is not None


@pytest.mark.parametrize("bad", [[0, 1, 3, 0, 1], [0, -1, 2, 0, 1]])
def test_a_label_out_of_range_is_the_losss_error_with_nothing_written(bad):
    net = MLP([4, 6, 3], activation="relu", output="softmax", seed=0, dtype=torch.float64)
    x = torch.randn(5, 4, dtype=torch.float64)
    buffered, whole = whole_buffers(net, "cross_entropy", x)
    assert whole is not None
    buffered.gradients(x, torch.tensor([0, 1, 2, 0, 1]))
    before = [p.grad.clone() for p in net.parameters()]
    with pytest.raises(ConfigError, match=r"class labels must lie in \[0, 2\]"):
        buffered.gradients(x, torch.tensor(bad))
    for p, g in zip(net.parameters(), before):
        assert torch.equal(p.grad, g)


@pytest.mark.parametrize("out, lossname", TERMINALS)
def test_float32_is_float64_to_round_off(out, lossname):
    sizes = [6, 10, 8, 1 if out == "logistic" else 4]
    nets = [MLP(sizes, activation="tanh", output=out, seed=4, dtype=dt) for dt in (torch.float32, torch.float64)]
    with torch.no_grad():
        for p, q in zip(*(n.parameters() for n in nets)):
            p.copy_(q)
    x, y = data(sizes, out, 31, torch.float64)
    Es = []
    for net, dt in zip(nets, (torch.float32, torch.float64)):
        xd, yd = x.to(dt), (y if out == "softmax" else y.to(dt))
        buffered, whole = whole_buffers(net, lossname, xd)
        assert whole is not None
        Es.append(buffered.gradients(xd, yd))
    torch.testing.assert_close(Es[0].double(), Es[1], rtol=2e-6, atol=1e-7)
    for p, q in zip(*(n.parameters() for n in nets)):
        torch.testing.assert_close(p.grad.double(), q.grad, rtol=1e-4, atol=2e-6)


def test_a_replaced_grad_or_a_strided_batch_takes_the_fused_step(monkeypatch):
    """Where the kernel does not take a step's tensors it says so and the fused step runs: the same E."""
    net = MLP([5, 7, 3], activation="relu", output="softmax", seed=0, dtype=torch.float64)
    x, y = data([5, 7, 3], "softmax", 9, torch.float64)
    buffered, whole = whole_buffers(net, "cross_entropy", x)
    E = buffered.gradients(x, y)
    assert whole.run(x, y) is not None
    xt = x.t().contiguous().t()                    # the same numbers, strided
    assert whole.run(xt, y) is None
    torch.testing.assert_close(buffered.gradients(xt, y), E, rtol=1e-12, atol=1e-12)
    net.layers[0].weight.grad = None
    assert whole.run(x, y) is None
    torch.testing.assert_close(buffered.gradients(x, y), E, rtol=1e-12, atol=1e-12)
    E_ref, grads = autograd(net, "relu", "softmax", x, y)
    for p, g in zip(net.flat_params(), grads):
        torch.testing.assert_close(p.grad, g, rtol=1e-12, atol=1e-12)


def test_the_whole_step_is_deterministic():
    """The same inputs give the same bits (exact resume rests on it)."""
    net = MLP([5, 7, 6, 3], activation="relu", output="softmax", seed=0)
    x, y = data([5, 7, 6, 3], "softmax", 40, torch.float32)
    buffered, whole = whole_buffers(net, "cross_entropy", x)
    E1 = buffered.gradients(x, y)
    g1 = [p.grad.clone() for p in net.parameters()]
    E2 = buffered.gradients(x, y)
    assert torch.equal(E1, E2) and all(torch.equal(p.grad, g) for p, g in zip(net.parameters(), g1))


@pytest.mark.parametrize("penalty", ["elimination", "decay_all", "decay_per_tensor"])
def test_a_weight_penalty_inside_the_one_call_is_autograd(penalty, monkeypatch):
    """Weight decay / elimination added in the kernel: E + P and every gradient as autograd's,
    also with a frozen penalised bias (P counts it, its .grad stays None) and gamma changed between steps."""
    from deepnets.losses import get_loss
    from deepnets.regularizers import WeightDecay, WeightElimination
    from deepnets.train.optimizers import make_optimizer
    from deepnets.train.step import make_step
    pen = {"elimination": WeightElimination(gamma=0.05, w0=0.5),
           "decay_all": WeightDecay(gamma=0.2, params="all"),
           "decay_per_tensor": WeightDecay(gamma=[0.1, 0.3, 0.2, 0.4, 0.5, 0.6], params="all")}[penalty]
    sizes = [4, 6, 5, 3]
    net = MLP(sizes, activation="tanh", output="softmax", seed=3, dtype=torch.float64)
    net.layers[1].bias.requires_grad_(False)
    x, y = data(sizes, "softmax", 13, torch.float64)
    step = make_step(net, make_optimizer("sgd", net, lr=0.1), get_loss("cross_entropy", model=net), penalty=pen)
    calls = []
    run = costate_whole.WholeStep.run
    monkeypatch.setattr(costate_whole.WholeStep, "run", lambda self, *a: calls.append(a[-1]) or run(self, *a))
    for k in range(3):
        if k == 2:
            pen.gamma = [3 * g for g in pen.gamma] if isinstance(pen.gamma, list) else 2 * pen.gamma
        E = step.closure((x, y), 0)
        ref = MLP(sizes, activation="tanh", output="softmax", seed=3, dtype=torch.float64)
        ref.layers[1].bias.requires_grad_(False)
        want = get_loss("cross_entropy", model=ref)(ref(x), y) + pen(ref)
        want.backward()
        torch.testing.assert_close(E, want.detach(), rtol=1e-12, atol=1e-12)
        for p, q in zip(net.parameters(), ref.parameters()):
            if q.requires_grad:
                torch.testing.assert_close(p.grad, q.grad, rtol=1e-12, atol=1e-13)
            else:
                assert p.grad is None
    assert len(calls) == 3 and all(c is not None for c in calls) and step.after is None


def test_scipys_blas_runs_with_torchs_threads_and_gets_its_own_count_back(monkeypatch):
    from deepnets import _numba
    net = MLP([5, 7, 3], activation="relu", output="softmax", seed=0, dtype=torch.float64)
    x, y = data([5, 7, 3], "softmax", 9, torch.float64)
    buffered, whole = whole_buffers(net, "cross_entropy", x)
    buffered.gradients(x, y)                      # SciPy's BLAS loaded, the controllers made
    libs = _numba._BLAS[0]
    assert libs
    during = []
    real = whole.kernel
    monkeypatch.setattr(whole, "entries", {})     # the kernel looked up again, through this spy
    monkeypatch.setattr(whole, "kernel", real)
    import deepnets.penalty_kernels as pk
    monkeypatch.setattr(pk, "fastest_entry", lambda k, *a: lambda *b: during.append(
        [lib.get_num_threads() for lib in libs]) or k(*b))
    before, threads = [lib.get_num_threads() for lib in libs], torch.get_num_threads()
    for lib in libs:
        lib.set_num_threads(2)
    try:
        torch.set_num_threads(1)
        buffered.gradients(x, y)
        assert during == [[1] * len(libs)]                        # torch's count during the call
        assert all(lib.get_num_threads() == 2 for lib in libs)     # its own count back after
    finally:
        torch.set_num_threads(threads)
        for lib, n in zip(libs, before):
            lib.set_num_threads(n)


def test_a_cost_beyond_float32s_range_is_inf_not_an_error():
    """E summed in float64 can exceed float32's largest number: the step returns inf (the
    non-finite guard then names it), as a sum in float32 does, rather than failing to convert it."""
    net = MLP([2, 3, 1], activation="tanh", output="linear", seed=0)
    x = torch.randn(4, 2)
    y = torch.full((4, 1), 3e19)
    buffered, whole = whole_buffers(net, "lms", x)
    assert whole is not None
    E = buffered.gradients(x, y)
    assert E.dtype == torch.float32 and E.item() == float("inf")


def test_a_second_fit_on_a_trained_net_takes_the_same_step_as_a_fresh_one():
    """A net trained before keeps its ``.grad`` tensors; the next fit moves them into its flat views
    (values kept) and runs the one-call step, bit for bit the step of a net without ``.grad``."""
    x, y = data([6, 8, 3], "softmax", 64, torch.float32)
    nets = [MLP([6, 8, 3], activation="relu", output="softmax", seed=0) for _ in range(2)]
    for net in nets:
        fit(net, (x, y), loss="cross_entropy", optimizer="adam", lr=1e-2, epochs=2, batch_size=16, seed=1)
    for p in nets[1].parameters():
        p.grad = None  # the second net starts its next fit as a fresh one would
    for net in nets:
        fit(net, (x, y), loss="cross_entropy", optimizer="adam", lr=1e-2, epochs=2, batch_size=16, seed=2)
    for a, b in zip(*(n.parameters() for n in nets)):
        assert torch.equal(a, b)
    storages = {p.grad.untyped_storage().data_ptr() for p in nets[0].parameters()}
    assert len(storages) == 1  # every .grad a view of one flat tensor again
