"""The fused CPU co-state step (Numba kernels) against the torch path, autograd and closed forms (#19)."""

import math

import numpy as np
import pytest
import torch

from deepnets import MLP, fit
from deepnets.errors import ConfigError, TrainingDiverged
from deepnets.losses import get_loss
from deepnets.train import costate_kernels as K
from deepnets.train.costate_buffers import CostateBuffers
from deepnets.train.optimizers import make_optimizer
from deepnets.train.step import CostateStep

pytestmark = pytest.mark.skipif(not __import__("deepnets._numba")._numba.available(),
                                reason="Numba is off here (DEEPNETS_NO_NUMBA)")

CASES = [  # sizes, activation, output, loss, bias
    ([8, 16, 5], "relu", "softmax", "cross_entropy", True),
    ([6, 12, 9, 4], "relu", "softmax", "cross_entropy", True),
    ([5, 10, 3], "tanh", "linear", "lms", True),
    ([5, 10, 7, 1], "logistic", "logistic", "cross_entropy", True),
    ([5, 10, 3], "relu", "linear", "lms", False),
    ([5, 10, 3], "lecun_tanh", "softmax", "cross_entropy", True),   # hidden δ by torch, terminal fused
]


def data(sizes, out, n=37, dtype=torch.float32, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, sizes[0], generator=g, dtype=dtype)
    if out == "softmax":
        y = torch.randint(0, sizes[-1], (n,), generator=g)
    elif out == "logistic":
        y = (torch.randn(n, 1, generator=g) > 0).to(dtype)
    else:
        y = torch.randn(n, sizes[-1], generator=g, dtype=dtype)
    return x, y


def twins(sizes, act, out, lossname, bias, dtype, monkeypatch):
    """Two equal nets and steps: the fused one, and one on the torch path (DEEPNETS_NO_NUMBA=1)."""
    nets = [MLP(sizes, activation=act, output=out, bias=bias, seed=1, dtype=dtype) for _ in range(2)]
    loss = get_loss(lossname, model=nets[0])
    steps = [CostateStep(nets[0], make_optimizer("adam", nets[0], lr=1e-2), loss)]
    with monkeypatch.context() as m:
        m.setenv("DEEPNETS_NO_NUMBA", "1")
        steps.append(CostateStep(nets[1], make_optimizer("adam", nets[1], lr=1e-2), loss))
    assert steps[0].buffered.fused is not None and steps[1].buffered.fused is None
    return nets, steps


@pytest.fixture(params=["whole", "torch_gemms"])
def gemms(request, monkeypatch):
    """Both fused steps: the whole step as one kernel call (costate_whole), and the fused step
    with torch's GEMMs (what nets wider than costate_whole.MAX_WIDTH take)."""
    if request.param == "torch_gemms":
        from deepnets.train import costate_whole
        monkeypatch.setattr(costate_whole, "MAX_WIDTH", 0)
    return request.param


@pytest.mark.parametrize("sizes, act, out, lossname, bias", CASES)
def test_fused_steps_follow_the_torch_path_in_float64(sizes, act, out, lossname, bias, monkeypatch, gemms):
    nets, steps = twins(sizes, act, out, lossname, bias, torch.float64, monkeypatch)
    for b in range(8):  # batch sizes 37 and 20: two sets of buffers
        batch = data(sizes, out, n=37 if b % 2 else 20, dtype=torch.float64, seed=b)
        Es = [s(batch, b) for s in steps]
        torch.testing.assert_close(Es[0], Es[1], rtol=1e-12, atol=1e-12)
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("sizes, act, out, lossname, bias", CASES)
def test_float32_fused_gradients_are_the_torch_paths_to_round_off(sizes, act, out, lossname, bias, monkeypatch,
                                                                   gemms):
    nets, steps = twins(sizes, act, out, lossname, bias, torch.float32, monkeypatch)
    x, y = data(sizes, out)
    Es = [s.buffered.gradients(x, y) for s in steps]
    torch.testing.assert_close(Es[0], Es[1], rtol=1e-6, atol=1e-7)
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("act", ["relu", "tanh", "logistic"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_hidden_delta_kernels_are_torchs_float_ops_bit_for_bit(act, dtype):
    """δ = λ ∘ g'(ŷ) from ẑ: the same float operations as the torch path's ``act.delta``."""
    from deepnets.activations import get_activation

    g = torch.Generator().manual_seed(0)
    unit = get_activation(act)
    z = unit(torch.randn(31, 17, generator=g, dtype=dtype))
    lam = torch.randn(31, 17, generator=g, dtype=dtype)
    want = unit.delta(lam, z)
    gb = torch.empty(31, dtype=dtype)  # (M, N) = (31, 17): a unit a row, ∂E/∂b sums each row
    kernel = {"relu": K.relu_delta, "tanh": K.tanh_delta, "logistic": K.logistic_delta}[act]
    kernel(lam.numpy(), z.numpy(), gb.numpy(), np.dtype(str(dtype)[6:]).type(1))
    assert torch.equal(lam, want)
    torch.testing.assert_close(gb, want.sum(1), rtol=1e-5 if dtype == torch.float32 else 1e-13, atol=1e-6)


@pytest.mark.parametrize("act, out, lossname", [("relu", "softmax", "cross_entropy"),
                                                ("tanh", "logistic", "cross_entropy"),
                                                ("logistic", "linear", "lms")])
def test_fused_gradient_matches_autograd(act, out, lossname, gemms):
    """Independent of the recursion: autograd through a plain torch forward pass and torch's costs."""
    sizes = [5, 7, 6, 3 if out != "logistic" else 1]
    net = MLP(sizes, activation=act, output=out, seed=0, dtype=torch.float64)
    x, y = data(sizes, out, dtype=torch.float64)
    buffered = CostateBuffers(net.flat_params(), net.activations, get_loss(lossname, model=net))
    assert buffered.fused is not None
    E = buffered.gradients(x, y)
    ref = [p.detach().clone().requires_grad_(True) for p in net.flat_params()]
    g = {"relu": torch.relu, "tanh": torch.tanh, "logistic": torch.sigmoid}[act]
    a = g(g(x @ ref[0].t() + ref[1]) @ ref[2].t() + ref[3]) @ ref[4].t() + ref[5]
    if out == "softmax":
        E_ref = torch.nn.functional.cross_entropy(a, y)
    elif out == "logistic":
        E_ref = torch.nn.functional.binary_cross_entropy_with_logits(a, y)
    else:
        E_ref = 0.5 * ((a - y) ** 2).sum(1).mean()
    E_ref.backward()
    torch.testing.assert_close(E, E_ref.detach(), rtol=1e-12, atol=1e-12)
    for p, r in zip(net.flat_params(), ref):
        torch.testing.assert_close(p.grad, r.grad, rtol=1e-12, atol=1e-12)


def test_frozen_layer_and_missing_bias_on_the_fused_path(monkeypatch):
    nets, steps = twins([5, 9, 4], "relu", "softmax", "cross_entropy", False, torch.float64, monkeypatch)
    for n in nets:
        n.layers[1].weight.requires_grad_(False)
    x, y = data([5, 9, 4], "softmax", dtype=torch.float64)
    for s in steps:
        s.buffered.gradients(x, y)
    assert nets[0].layers[1].weight.grad is None
    torch.testing.assert_close(nets[0].layers[0].weight.grad, nets[1].layers[0].weight.grad, rtol=1e-12, atol=0)


@pytest.mark.parametrize("validate", [True, False])
def test_a_label_out_of_range_is_the_clear_error_with_nothing_written(validate):
    net = MLP([4, 6, 3], activation="relu", output="softmax", seed=0)
    buffered = CostateBuffers(net.flat_params(), net.activations, get_loss("cross_entropy", model=net),
                              validate=validate)
    x = torch.randn(5, 4)
    buffered.gradients(x, torch.tensor([0, 1, 2, 0, 1]))
    before = [p.grad.clone() for p in net.parameters()]
    for bad in ([0, 1, 3, 0, 1], [0, -1, 2, 0, 1]):
        with pytest.raises(ConfigError, match=r"class labels must lie in \[0, 2\]"):
            buffered.gradients(x, torch.tensor(bad))
    for p, g in zip(net.parameters(), before):
        assert torch.equal(p.grad, g)


def test_the_torch_path_where_the_fused_one_does_not_apply(monkeypatch):
    """One-hot float targets, a non-contiguous batch, Numba off: torch's ops, today's numbers."""
    net = MLP([4, 6, 3], activation="relu", output="softmax", seed=0)
    loss = get_loss("cross_entropy", model=net)
    buffered = CostateBuffers(net.flat_params(), net.activations, loss)
    x = torch.randn(8, 4)
    onehot = torch.nn.functional.one_hot(torch.arange(8) % 3, 3).float()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # no out= tensor resized between the two layouts
        buffered.gradients(x, onehot)
        buffered.gradients(x, onehot)
    assert buffered.buffers[(8, torch.float32, torch.device("cpu"), False)][2] is not None   # fused buffers made ...
    assert buffered.buffers[(8, torch.float32, torch.device("cpu"), True)][0][0].shape == (8, 6)  # the torch path's own
    monkeypatch.setenv("DEEPNETS_NO_NUMBA", "1")
    ref = CostateBuffers([p.detach().clone() for p in net.flat_params()], net.activations, loss)
    for p in ref.params:
        p.requires_grad_(True)
    ref.gradients(x, onehot)
    for p, q in zip(net.flat_params(), ref.params):
        assert torch.equal(p.grad, q.grad)   # ... but soft targets took the torch path, bit for bit
    xt = torch.randn(4, 8).t()              # a non-contiguous batch: the GEMMs take it as it is
    torch.testing.assert_close(buffered.gradients(xt, torch.arange(8) % 3),
                               ref.gradients(xt.contiguous(), torch.arange(8) % 3), rtol=1e-6, atol=1e-6)


def test_gradients_finite_checks_every_gradient_in_one_pass():
    net = MLP([4, 6, 3], activation="relu", output="softmax", seed=0)
    step = CostateStep(net, make_optimizer("adam", net, lr=1e-3), get_loss("cross_entropy", model=net))
    params = list(net.parameters())
    step.buffered.gradients(torch.randn(8, 4), torch.arange(8) % 3)
    assert step.finite_check()(params) is True
    for p in params:
        g = p.grad.view(-1)
        old = float(g[-1])
        g[-1] = math.inf
        assert step.finite_check()(params) is False
        g[-1] = math.nan
        assert step.finite_check()(params) is False
        g[-1] = old
    assert step.finite_check()(params) is True
    params[0].grad = params[0].grad.clone()  # a gradient replaced: it cannot tell in one pass
    assert step.finite_check()(params) is None
    assert step.finite_check()(params[:2]) is None


@pytest.mark.parametrize("numba", [True, False])
def test_the_guard_names_a_non_finite_gradient(numba, monkeypatch):
    """E is finite and so is every δ, yet ∂E/∂W(1) = δ(1)ᵀ x is not: an infinite input whose
    every ŷ(1) is −inf (ReLU gives 0, δ(1) = 0 there) makes 0 · inf = NaN in that GEMM only."""
    if not numba:
        monkeypatch.setenv("DEEPNETS_NO_NUMBA", "1")
    net = MLP([2, 3, 2], activation="relu", output="softmax", seed=0)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[-1.0, 0.5], [-2.0, 0.0], [-1.0, 1.0]]))
    x = torch.tensor([[0.5, 0.5], [0.1, 0.2], [math.inf, 0.0], [0.3, 0.1]])
    y = torch.tensor([0, 1, 0, 1])
    before = [p.detach().clone() for p in net.parameters()]
    with pytest.raises(TrainingDiverged, match="batch 1: the gradient of 'layers.0.weight' is not finite"):
        fit(net, (x, y), loss="cross_entropy", epochs=1, batch_size=4, shuffle=False)
    for p, b in zip(net.parameters(), before):
        assert torch.equal(p.detach(), b)


def test_kernels_against_numpy():
    """The terminal kernels' E and δ(L) from their closed forms in NumPy (float64)."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(7, 4)) * 3
    p = np.exp(a - a.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = rng.integers(0, 4, 7)
    delta, gb = np.empty((7, 4)), np.empty(4)
    total, bad = K.softmax_ce_labels(np.ascontiguousarray(p.T), y, delta, gb, 1e-300, 1.0, 7.0)
    onehot = np.eye(4)[y]
    assert bad == -1
    np.testing.assert_allclose(total, -np.log(p[np.arange(7), y]).sum(), rtol=1e-14)
    np.testing.assert_allclose(delta, (p - onehot) / 7, rtol=1e-14, atol=1e-17)
    np.testing.assert_allclose(gb, ((p - onehot) / 7).sum(0), rtol=1e-12, atol=1e-16)
    t = rng.normal(size=(7, 4))
    total, _ = K.identity_lms(a.copy(), t, delta, gb, 0.0, 1.0, 7.0)
    np.testing.assert_allclose(total, 0.5 * ((a - t) ** 2).sum(), rtol=1e-14)
    np.testing.assert_allclose(delta, (a - t) / 7, rtol=1e-14)
    lam, z = rng.normal(size=(5, 6)), np.tanh(rng.normal(size=(5, 6)))
    want = lam * (1 - z * z)
    K.tanh_delta(lam, z, gb := np.empty(5), 1.0)  # (M, N) = (5, 6)
    np.testing.assert_array_equal(lam, want)
    np.testing.assert_allclose(gb, want.sum(1), rtol=1e-13)
    assert K.all_finite(np.ones(37)) and not K.all_finite(np.r_[np.ones(36), np.inf])


def test_fit_checks_its_gradients_in_the_fused_pass(monkeypatch):
    """On the fused path the guard's own per-tensor check is not needed while all is finite."""
    from deepnets.train.callbacks import NonFiniteGuard

    def never(self, tensors):
        raise AssertionError("the per-tensor check ran")

    monkeypatch.setattr(NonFiniteGuard, "_all_finite", never)
    net = MLP([4, 6, 3], activation="relu", output="softmax", seed=0)
    x, y = data([4, 6, 3], "softmax", n=40)
    h = fit(net, (x, y), loss="cross_entropy", epochs=2, batch_size=16)
    assert len(h.history["loss"]) == 2 and all(math.isfinite(v) for v in h.history["loss"])


@pytest.mark.parametrize("penalty", ["weight_decay", "weight_elimination"])
def test_a_closed_form_penalty_on_the_fused_path_follows_the_torch_path(penalty, monkeypatch):
    """The penalty's gradient enters the weight GEMMs (``extra``) and the bias gradients alike."""
    from deepnets.regularizers import WeightDecay, WeightElimination

    make = {"weight_decay": lambda: WeightDecay(1e-2), "weight_elimination": lambda: WeightElimination(1e-2, w0=1.0)}
    nets = [MLP([6, 9, 4], activation="relu", output="softmax", seed=1, dtype=torch.float64) for _ in range(2)]
    loss = get_loss("cross_entropy", model=nets[0])
    steps = [CostateStep(nets[0], make_optimizer("adam", nets[0], lr=1e-2), loss, penalty=make[penalty]())]
    with monkeypatch.context() as m:
        m.setenv("DEEPNETS_NO_NUMBA", "1")
        steps.append(CostateStep(nets[1], make_optimizer("adam", nets[1], lr=1e-2), loss, penalty=make[penalty]()))
    assert steps[0].buffered.fused is not None and steps[1].buffered.fused is None
    for b in range(4):
        batch = data([6, 9, 4], "softmax", n=25, dtype=torch.float64, seed=b)
        Es = [s(batch, b) for s in steps]
        torch.testing.assert_close(Es[0], Es[1], rtol=1e-12, atol=1e-12)
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)


def test_a_parameter_given_new_storage_is_read_from_it(monkeypatch):
    """The step keeps views of b(l) and W(l)ᵀ from step to step: after ``p.data = ...`` (new
    storage) it must read the new numbers, as a net changed in place does (bit for bit)."""
    nets = [MLP([6, 9, 4], activation="relu", output="softmax", seed=2) for _ in range(2)]
    loss = get_loss("cross_entropy", model=nets[0])
    steps = [CostateStep(n, torch.optim.SGD(n.parameters(), lr=0.1), loss) for n in nets]
    x, y = data([6, 9, 4], "softmax", n=11)
    for s in steps:
        s((x, y), 0)  # the views are made here
    with torch.no_grad():
        for p in nets[0].parameters():
            p.data = p.data.clone()  # new storage, the same numbers
        for n in nets:
            for p in n.parameters():
                p.mul_(1.5)  # net 0: the new storage only
    Es = [s((x, y), 1) for s in steps]
    assert torch.equal(Es[0], Es[1])
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(p, q) and torch.equal(p.grad, q.grad)


@pytest.mark.parametrize("sizes, act", [([8, 16, 5], "relu"), ([6, 12, 9, 4], "relu"), ([5, 10, 3], "lecun_tanh")])
def test_views_kept_from_step_to_step_give_the_numbers_of_fresh_ones(sizes, act):
    """Bit for bit: a step on the buffers and parameter views it keeps, and a step that makes
    them all afresh (new buffers, new views), over two batch sizes and Adam's updates."""
    nets = [MLP(sizes, activation=act, output="softmax", seed=4) for _ in range(2)]
    loss = get_loss("cross_entropy", model=nets[0])
    steps = [CostateStep(n, make_optimizer("adam", n, lr=1e-2), loss) for n in nets]
    for b in range(6):
        batch = data(sizes, "softmax", n=29 if b % 2 else 16, seed=b)
        steps[1].buffered.buffers.clear()          # fresh buffers (and their views) ...
        steps[1].buffered.fused.pviews = (None, None)  # ... and fresh parameter views
        Es = [s(batch, b) for s in steps]
        assert torch.equal(Es[0], Es[1])
        for p, q in zip(nets[0].parameters(), nets[1].parameters()):
            assert torch.equal(p, q) and torch.equal(p.grad, q.grad)
