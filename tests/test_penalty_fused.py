"""The fused (Numba) path of the bound weight penalties against autograd and against the torch path (#15).

The fused call reads the weights where they lie and writes the gradients and P into one buffer;
the torch path (``FlatPenalty(..., fused=False)``, GPU tensors, float16, non-contiguous weights,
``DEEPNETS_NO_NUMBA=1``) copies them into a flat vector. Both must give what autograd gives when
it differentiates the penalty's own formula, ``penalty(model)``.
"""

import pytest
import torch
from torch import nn

from deepnets import MLP, _numba, fit
from deepnets.penalty_gradients import FlatPenalty, _Fused
from deepnets.regularizers import WeightDecay, WeightElimination

# the fused path against the torch path: nothing to compare where the fused path is switched off
# (DEEPNETS_NO_NUMBA=1; the torch path's own tests, tests/test_penalty_gradients.py, still run)
pytestmark = pytest.mark.skipif(not _numba.available(), reason="Numba switched off (DEEPNETS_NO_NUMBA)")

PENALTIES = [
    lambda: WeightElimination(gamma=3e-3, w0=0.5),
    lambda: WeightElimination(gamma=[1e-2, 0.0], w0=2.0),
    lambda: WeightElimination(gamma={"2": 0.2, "0.bias": 0.05}, w0=0.3, params="all"),
    lambda: WeightDecay(gamma=1e-2),
    lambda: WeightDecay(gamma=[0.1, 0.02]),
]


def net(dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 9), nn.Tanh(), nn.Linear(9, 2)).to(dtype)
    with torch.no_grad():
        model[0].weight.mul_(4.0)  # weights on both sides of w0
    return model


def by_autograd(penalty, model):
    """(P, {parameter: ∂P/∂parameter}) by autograd on the penalty's formula."""
    P = penalty(model)
    grads = torch.autograd.grad(P, list(model.parameters()), allow_unused=True, materialize_grads=True)
    return P.detach(), dict(zip(model.parameters(), grads))


def bound_result(bound):
    """(P, {target: gradient}) from ``bound.gradients()``, copied (the buffers are reused)."""
    grads, v, scale = bound.gradients()
    return (v * scale).clone(), {t: g.clone() for t, g in zip(bound.targets, grads)}


@pytest.mark.parametrize("make", PENALTIES)
def test_fused_path_equals_autograd_and_the_torch_path_in_float64(make):
    model, penalty = net(), make()
    fused, torch_path = FlatPenalty(penalty, model), FlatPenalty(penalty, model, fused=False)
    assert fused.fused is not None and torch_path.fused is None
    want, wgrads = by_autograd(penalty, model)
    for bound in (fused, torch_path):
        P, grads = bound_result(bound)
        assert torch.allclose(P, want, rtol=1e-12, atol=0)
        for t, g in grads.items():
            assert torch.allclose(g, wgrads[t], rtol=1e-12, atol=1e-300)
    (Pf, gf), (Pt, gt) = bound_result(fused), bound_result(torch_path)
    assert torch.allclose(Pf, Pt, rtol=1e-13, atol=0)
    assert all(torch.allclose(gf[t], gt[t], rtol=1e-13, atol=1e-300) for t in gf)


@pytest.mark.parametrize("make", PENALTIES)
def test_fused_path_in_float32_is_float32_round_off_of_the_float64_answer(make):
    model, penalty = net(torch.float32), make()
    bound = FlatPenalty(penalty, model)
    assert bound.fused is not None
    P, grads = bound_result(bound)
    assert P.dtype == torch.float32 and all(g.dtype == torch.float32 for g in grads.values())
    ref = net(torch.float32)
    ref.double()  # the same float32 weights, exactly, in float64
    want, wgrads = by_autograd(penalty, ref)
    assert torch.allclose(P.double(), want, rtol=1e-6, atol=0)
    by_name = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        if p in grads:
            assert torch.allclose(grads[p].double(), wgrads[by_name[name]], rtol=1e-6, atol=1e-30)


def test_the_path_is_chosen_by_the_tensors_and_by_deepnets_no_numba(monkeypatch):
    """Fused for contiguous CPU float32/float64 tensors of one dtype; the torch path otherwise."""
    penalty = WeightElimination(gamma=0.1)
    assert FlatPenalty(penalty, net()).fused is not None
    assert FlatPenalty(penalty, net().half()).fused is None
    mixed = net()
    mixed[2].float()
    assert FlatPenalty(penalty, mixed).fused is None
    transposed = net()
    transposed[0].weight = nn.Parameter(transposed[0].weight.detach().t().contiguous().t())
    assert FlatPenalty(penalty, transposed).fused is None
    assert not _Fused.applies(penalty, [torch.empty(3, 2, device="meta")])
    monkeypatch.setenv("DEEPNETS_NO_NUMBA", "1")
    model = net()
    bound = FlatPenalty(penalty, model)
    assert bound.fused is None
    want, wgrads = by_autograd(penalty, model)
    P, grads = bound_result(bound)
    assert torch.allclose(P, want, rtol=1e-12, atol=0)
    assert all(torch.allclose(g, wgrads[t], rtol=1e-12, atol=0) for t, g in grads.items())


@pytest.mark.parametrize("fused", [True, False])
def test_a_replaced_parameter_storage_is_followed(fused):
    """``p.data = ...`` gives the parameter new memory: the bound penalty reads the new weights
    (its views of the old memory are made again), whether or not the layout still suits the fused path."""
    model, penalty = net(), WeightElimination(gamma=0.05, w0=0.7)
    bound = FlatPenalty(penalty, model, fused=fused)
    bound.gradients()
    replacements = [
        lambda p: p.detach() * 0.5,                      # new memory, same layout
        lambda p: p.detach().t().contiguous().t(),       # non-contiguous: the torch path
        lambda p: p.detach().contiguous() + 1.0,         # back to contiguous
    ]
    for replace in replacements:
        with torch.no_grad():
            model[0].weight.data = replace(model[0].weight)
        want, wgrads = by_autograd(penalty, model)
        P, grads = bound_result(bound)
        assert torch.allclose(P, want, rtol=1e-12, atol=0)
        assert all(torch.allclose(g, wgrads[t], rtol=1e-12, atol=0) for t, g in grads.items())
        assert (bound.fused is not None) == (fused and model[0].weight.is_contiguous())


def test_per_tensor_gammas_changed_in_place_are_followed():
    """A gamma list (or dict) changed in place, and w0, are read at the next call."""
    model = net()
    for penalty, change in ((WeightElimination(gamma=[0.1, 0.2]), lambda p: p.gamma.__setitem__(1, 0.7)),
                            (WeightDecay(gamma={"0": 0.3}, params="all"), lambda p: p.gamma.update({"2.bias": 2.0})),
                            (WeightElimination(gamma=[0.1, 0.2], w0=1.0), lambda p: setattr(p, "w0", 0.2))):
        bound = FlatPenalty(penalty, model)
        assert bound.fused is not None
        bound.gradients()
        change(penalty)
        want, wgrads = by_autograd(penalty, model)
        P, grads = bound_result(bound)
        assert torch.allclose(P, want, rtol=1e-12, atol=0)
        assert all(torch.allclose(g, wgrads[t], rtol=1e-12, atol=0) for t, g in grads.items())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fits_on_the_fused_and_the_torch_path_agree(dtype):
    """The co-state step with the fused penalty gives the weights and losses of the torch path's:
    to float64 round-off, and in float32 to a few float32 ulps after a few epochs of Adam."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(60, 5, generator=g, dtype=dtype)
    y = torch.sin(x.sum(1, keepdim=True))

    class Path(WeightElimination):
        def bind(self, model):
            self.bound = FlatPenalty(self, model, fused=self.fused)
            return self.bound

    runs = []
    for fused in (True, False):
        penalty = Path(gamma=1e-2, w0=0.5)
        penalty.fused = fused
        model = MLP([5, 8, 1], activation="tanh", output="linear", seed=2, dtype=dtype)
        h = fit(model, (x, y), loss="lms", optimizer="adam", lr=0.01, epochs=3, batch_size=16, penalty=penalty,
                seed=0)
        assert (penalty.bound.fused is not None) == fused
        runs.append((torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double(), h.history["loss"]))
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert torch.allclose(runs[0][0], runs[1][0], rtol=0, atol=tol)
    assert runs[0][1] == pytest.approx(runs[1][1], rel=tol, abs=0)


def test_fastest_entry_computes_what_the_kernel_computes():
    """The compiled entry found for fixed argument types writes the numbers the dispatched kernel writes."""
    from deepnets.penalty_kernels import fastest_entry, weight_elimination_kernel

    g = torch.Generator().manual_seed(1)
    ws = tuple(torch.randn(n, generator=g, dtype=torch.float64).numpy() for n in (12, 5))
    a, b = torch.zeros(19, dtype=torch.float64), torch.zeros(19, dtype=torch.float64)
    views = [(t[:12].numpy(), t[12:17].numpy()) for t in (a, b)]
    run = fastest_entry(weight_elimination_kernel, ws, views[0], (1.0, 1.0), 0.0, 0.5, a[18:].numpy(), False)
    assert torch.count_nonzero(a) == 0  # the first call (to compile) is not on the arrays given
    run(ws, views[0], (0.3, 0.7), 1.0, 0.5, a[18:].numpy(), False)
    weight_elimination_kernel(ws, views[1], (0.3, 0.7), 1.0, 0.5, b[18:].numpy(), False)
    assert torch.equal(a, b)
    run(ws, views[0], (0.3, 0.7), 1.0, 0.5, a[18:].numpy(), True)  # added: twice the gradient
    assert torch.equal(a[:17], 2 * b[:17])
    w = torch.from_numpy(ws[0]).clone().requires_grad_(True)
    P = 0.3 * ((w / 0.5) ** 2 / (1 + (w / 0.5) ** 2)).sum()
    P.backward()
    assert torch.allclose(b[:12], w.grad, rtol=1e-13, atol=0)


@pytest.mark.parametrize("whole", [True, False])
@pytest.mark.parametrize("penalty", [WeightElimination(gamma=0.05, w0=0.5), WeightDecay(gamma=[0.1, 0.3, 0.2, 0.4], params="all")])
def test_the_costate_step_lets_the_penalty_add_into_the_grads(penalty, whole, monkeypatch):
    """The whole-step kernel adds the penalty inside its one call (``whole``) while the fused
    step's views of one flat tensor are the .grad; the fused step with torch's GEMMs (a net
    wider than costate_whole.MAX_WIDTH), from the second step on, runs as without a penalty and
    the penalty adds its gradients to them, as the whole step does once ``zero_grad(set_to_none=True)``
    replaced them: every step's E and gradients are autograd's, also after a weight's memory is replaced."""
    from deepnets.train import costate_whole
    if not whole:
        monkeypatch.setattr(costate_whole, "MAX_WIDTH", 0)
    from deepnets.losses import get_loss
    from deepnets.train.optimizers import make_optimizer
    from deepnets.train.step import make_step

    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(11, 4, generator=g, dtype=torch.float64), torch.randn(11, 2, generator=g, dtype=torch.float64)
    net = MLP([4, 6, 2], activation="tanh", output="linear", seed=3, dtype=torch.float64)
    step = make_step(net, make_optimizer("sgd", net, lr=0.1), get_loss("lms"), penalty=penalty)  # closure: no update
    for k in range(7):
        if k == 2:
            with torch.no_grad():
                net.layers[0].weight.data = net.layers[0].weight.detach().clone()  # new memory, same weights
        if k == 4:
            net.zero_grad(set_to_none=True)  # new .grad tensors: the penalty follows them
        E = step.closure((x, y), 0)
        ref = MLP([4, 6, 2], activation="tanh", output="linear", seed=3, dtype=torch.float64)
        want = get_loss("lms")(ref(x), y) + penalty(ref)
        want.backward()
        assert torch.allclose(E, want.detach(), rtol=1e-13, atol=0)
        for p, q in zip(net.parameters(), ref.parameters()):
            assert torch.allclose(p.grad, q.grad, rtol=1e-12, atol=1e-15)
        if k in ((5, 6) if whole else (1, 5, 6)):
            assert step.after is not None and all(p.grad is g for p, g in step.after)
        if whole and k < 4:   # one call: the penalty's own wiring never made
            assert step.after is None and step.buffered.whole_plan(x) is not None
    assert step.buffered.fused.flat is not None  # the fused step kept its flat .grad views
    with pytest.raises(RuntimeError, match="write_into"):
        step.add_penalty()


def test_adaptive_lambda_takes_the_fused_path_and_equals_autograd(monkeypatch):
    """AdaptiveLambda's bound penalty forwards the fused calls: the same lambdas and weights as the
    same rule over a penalty differentiated by autograd (float64), and the fused call is used."""
    from deepnets import MLP, fit
    from deepnets.adaptive_lambda import AdaptiveLambda
    from deepnets.penalty_gradients import FlatPenalty
    from deepnets.regularizers import WeightElimination

    class NoClosedForm:  # the same penalty, no bind(): fit differentiates it by autograd
        def __init__(self, p):
            self.p = p
        gamma = property(lambda self: self.p.gamma, lambda self, v: setattr(self.p, "gamma", v))

        def __call__(self, model, x=None):
            return self.p(model, x)

    from deepnets.train.costate_whole import WholeStep
    calls = []
    real = FlatPenalty.added
    monkeypatch.setattr(FlatPenalty, "added", lambda self: calls.append(1) or real(self))
    whole = WholeStep.run   # the whole-step kernel, the penalty added in its one call
    monkeypatch.setattr(WholeStep, "run", lambda self, x, t, p=None: (p is not None and calls.append(2)) or whole(self, x, t, p))
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 3, generator=g, dtype=torch.float64), torch.randn(40, 1, generator=g, dtype=torch.float64)
    runs = []
    for make in (lambda: WeightElimination(gamma=1e-3), lambda: NoClosedForm(WeightElimination(gamma=1e-3))):
        net = MLP([3, 5, 1], activation="tanh", output="linear", seed=0).double()
        h = fit(net, (x, y), loss="lms", optimizer="adam", lr=0.01, epochs=6, batch_size=8, seed=0,
                penalty=AdaptiveLambda(make(), delta_lambda=1e-4))
        runs.append((h.history["lambda"], h.history["loss"], [p.detach().clone() for p in net.parameters()]))
    assert calls, "the fused call was not used"
    (l1, e1, w1), (l2, e2, w2) = runs
    assert l1 == pytest.approx(l2, rel=1e-12, abs=1e-15) and len(set(l1)) > 2
    assert e1 == pytest.approx(e2, rel=1e-10)
    for a, b in zip(w1, w2):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kill_step", [5, 14])  # mid-epoch; at an epoch's end
def test_a_resumed_penalised_run_is_bit_for_bit_the_uninterrupted_one(tmp_path, kill_step):
    """The fused penalty's first step takes the arithmetic of every later one, so a run resumed
    from a mid-run checkpoint (whose first step is a first step again) ends on the same bits."""
    from deepnets import MLP, fit
    from deepnets.regularizers import WeightElimination
    from deepnets.train.callbacks import Checkpointer
    from deepnets.train.checkpoint import CheckpointManager

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 3, generator=g, dtype=torch.float64), torch.randn(40, 1, generator=g, dtype=torch.float64)

    def train(callbacks=()):
        net = MLP([3, 6, 1], activation="tanh", output="linear", seed=1).double()
        h = fit(net, (x, y), loss="lms", optimizer="adam", lr=0.02, epochs=4, batch_size=8, seed=4,
                penalty=WeightElimination(gamma=1e-2), callbacks=list(callbacks))
        return net, h

    full, full_h = train()
    train([Checkpointer(tmp_path / "run", every_steps=kill_step, every_epochs=0, keep=10, background=False)])
    mgr = CheckpointManager(tmp_path / "run")
    ckpt = mgr.load(mgr.list()[0].name)
    assert ckpt["step"] == kill_step
    net, h = train([Checkpointer(tmp_path / "run", every_epochs=0, resume=ckpt)])
    for k, v in full.state_dict().items():
        assert torch.equal(v, net.state_dict()[k]), k
    assert h.history["loss"] == full_h.history["loss"]
