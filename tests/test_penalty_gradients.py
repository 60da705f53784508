"""Penalties on one flat copy of the weights, added inside the co-state step's GEMMs (#15).

Every check is against autograd differentiating the penalty's own formula (``penalty(model)``),
in float64: the bound gradients and values, and whole fits whose weights and logged losses must
be those of the same fit with the penalty taken through autograd.
"""

import pytest
import torch
from torch import nn

from deepnets import MLP, fit
from deepnets.losses import get_loss
from deepnets.regularizers import AdaptiveLambda, CurvatureSmoothing, WeightDecay, WeightElimination
from deepnets.train.optimizers import make_optimizer
from deepnets.train.step import make_step


class ThroughAutograd:
    """The same penalty with no ``bind``: the step differentiates ``penalty(model, x)`` by autograd."""

    def __init__(self, penalty):
        self.penalty = penalty

    def __call__(self, model, x=None):
        return self.penalty(model, x)


def series(n=70, p=4, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, p, generator=g, dtype=torch.float64)
    return x, torch.sin(x.sum(1, keepdim=True))


def by_autograd(penalty, model, x=None):
    """(P, [∂P/∂w for every parameter]) by autograd."""
    P = penalty(model, x)
    return P.detach(), torch.autograd.grad(P, list(model.parameters()), allow_unused=True, materialize_grads=True)


@pytest.mark.parametrize("make", [
    lambda: WeightElimination(gamma=3e-3, w0=0.5),
    lambda: WeightElimination(gamma=[1e-2, 0.0], w0=2.0),
    lambda: WeightElimination(gamma={"layers.1": 0.2, "layers.0.bias": 0.05}, w0=0.3, params="all"),
    lambda: WeightDecay(gamma=1e-2),
    lambda: WeightDecay(gamma=[0.1, 0.02], params="weights"),
    lambda: CurvatureSmoothing(gamma=1e-3),
])
@pytest.mark.parametrize("batch_size", [16, None])
def test_fit_on_the_costate_path_equals_fit_through_autograd(make, batch_size):
    """Adam (fused kernel) on the co-state step with the penalty in its GEMMs: the weights after
    training and every epoch's logged loss (the sample-weighted mean of E_b + P(W_b)) are those of
    the same fit differentiating the penalty by autograd, to float64 round-off."""
    x, y = series()
    runs = []
    for penalty in (make(), ThroughAutograd(make())):
        net = MLP([4, 7, 1], activation="tanh", output="linear", seed=1, dtype=torch.float64)
        with torch.no_grad():
            net.layers[0].weight.mul_(3.0)  # weights on both sides of w0
        h = fit(net, (x, y), loss="lms", optimizer="adam", lr=0.02, epochs=4, batch_size=batch_size,
                penalty=penalty, seed=0)
        runs.append((torch.cat([p.detach().reshape(-1) for p in net.parameters()]), h.history["loss"]))
    assert torch.allclose(runs[0][0], runs[1][0], rtol=0, atol=1e-12)
    assert runs[0][1] == pytest.approx(runs[1][1], rel=1e-12, abs=0)


@pytest.mark.parametrize("penalty", [WeightElimination(gamma=1e-3), WeightDecay(gamma=1e-3),
                                     CurvatureSmoothing(gamma=1e-3), AdaptiveLambda(WeightElimination(gamma=1e-3))])
def test_the_costate_step_takes_the_penalty_into_its_gemms(penalty):
    """The step's batch cost is E + P and ``.grad`` holds ∂(E + P)/∂w, with no separate pass of
    the penalty over ``.grad`` (it goes in as the GEMMs' input): as autograd gives them."""
    x, y = series(n=9)
    net = MLP([4, 5, 2], activation="tanh", output="linear", seed=2, dtype=torch.float64)
    step = make_step(net, make_optimizer("sgd", net, lr=0.1), get_loss("lms"), penalty=penalty)
    assert step.penalty_in_gradients
    E = step.closure((x, y.expand(-1, 2)), 0)  # the gradient and E, before any update
    ref = MLP([4, 5, 2], activation="tanh", output="linear", seed=2, dtype=torch.float64)
    inner = penalty.penalty if isinstance(penalty, AdaptiveLambda) else penalty
    want = get_loss("lms")(ref(x), y.expand(-1, 2)) + inner(ref, x)
    want.backward()
    assert torch.allclose(E, want.detach(), rtol=1e-13, atol=0)
    for p, q in zip(net.parameters(), ref.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-12, atol=1e-15)


def test_a_frozen_penalised_weight_stays_frozen():
    """A weight that does not require a gradient gets no penalty gradient (as under autograd)."""
    x, y = series()
    runs = []
    for penalty in (WeightElimination(gamma=1e-2, w0=0.5), ThroughAutograd(WeightElimination(gamma=1e-2, w0=0.5))):
        net = MLP([4, 7, 1], activation="tanh", output="linear", seed=1, dtype=torch.float64)
        net.layers[0].weight.requires_grad_(False)
        before = net.layers[0].weight.detach().clone()
        fit(net, (x, y), loss="lms", optimizer="adam", lr=0.02, epochs=2, batch_size=16, penalty=penalty, seed=0)
        assert torch.equal(net.layers[0].weight, before) and net.layers[0].weight.grad is None
        runs.append(torch.cat([p.detach().reshape(-1) for p in net.parameters()]))
    assert torch.allclose(runs[0], runs[1], rtol=0, atol=1e-12)


def test_weight_elimination_value_has_no_cancellation_for_small_weights():
    """P = γ Σ w²/(w0² + w²) summed from its positive terms: for weights far below w0 it keeps its
    relative precision (γ (numel − w0² Σ 1/(w0² + w²)) loses it to cancellation)."""
    net = nn.Sequential(nn.Linear(30, 20), nn.Tanh(), nn.Linear(20, 1)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(1e-4)
    penalty = WeightElimination(gamma=1e-2, w0=1.0)
    want, grads = by_autograd(penalty, net)
    got = penalty.bind(net)()
    assert torch.allclose(got, want, rtol=1e-13, atol=0)
    assert torch.allclose(net[0].weight.grad, grads[0], rtol=1e-13, atol=0)


def test_bound_penalty_follows_changed_settings_and_zero_gamma():
    """gamma and w0 are read at every call (AdaptiveLambda changes gamma between epochs)."""
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    penalty = WeightElimination(gamma=1e-2, w0=1.0)
    bound = penalty.bind(net)
    for gamma, w0 in ((1e-2, 1.0), (5e-2, 1.0), (5e-2, 0.25), (0.0, 0.25)):
        penalty.gamma, penalty.w0 = gamma, w0
        want, wgrads = by_autograd(penalty, net)
        grads, v, scale = bound.gradients()
        assert torch.allclose(v * scale, want, rtol=1e-13, atol=0)
        for t, g in zip(bound.targets, grads):
            k = [p is t for p in net.parameters()].index(True)
            assert torch.allclose(g, wgrads[k], rtol=1e-13, atol=0)


def test_non_contiguous_and_mixed_dtype_weights():
    """A transposed weight is read where it lies; tensors of two dtypes are two flat groups."""
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    net[0].double()
    with torch.no_grad():
        net[0].weight = nn.Parameter(net[0].weight.detach().t().contiguous().t())  # column-major
    assert not net[0].weight.is_contiguous()
    for penalty in (WeightElimination(gamma=0.3, w0=0.7), WeightDecay(gamma=0.3)):
        for p in net.parameters():
            p.grad = None
        P = penalty.add_gradient(net)
        for p in net.parameters():
            want = torch.autograd.grad(penalty(net), p, allow_unused=True, materialize_grads=True)[0]
            got = p.grad if p.grad is not None else torch.zeros_like(p)
            assert torch.allclose(got, want, rtol=1e-6 if p.dtype == torch.float32 else 1e-13, atol=0)
        assert torch.allclose(P.double(), penalty(net).double().detach(), rtol=1e-6)
