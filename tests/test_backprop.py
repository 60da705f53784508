"""The co-state recursion against autograd: gradcheck in float64 for every activation and every
output/loss pairing, double backward, the per-layer error signals, and vanishing gradients."""

import itertools

import pytest
import torch

from deepnets import MLP, costates
from deepnets.backprop import costate_backward, forward_layers
from deepnets.losses import CrossEntropy, LMS, Lp

HIDDEN = ["logistic:2", "tanh:0.5", "lecun_tanh", "relu", "leaky_relu:0.1", "elu", "identity"]
PAIRS = [("linear", LMS()), ("linear", Lp(1.5)), ("logistic", LMS()), ("logistic", CrossEntropy(outputs="probabilities")),
         ("softmax", CrossEntropy(outputs="probabilities")), ("softmax", LMS()), ("tanh", LMS(coding="pm1")),
         ("tanh", Lp(1.2, coding="pm1")), ("linear", CrossEntropy(outputs="logits"))]


def _net(act, out, n_out, seed=0):
    return MLP([3, 5, 4, n_out], activation=act, output=out, seed=seed, dtype=torch.float64)


def _targets(out, loss, n, n_out, g):
    if isinstance(loss, CrossEntropy) or out in ("softmax",):
        return torch.randint(0, max(n_out, 2), (n,), generator=g)
    return torch.randn(n, n_out, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("act,pair", list(itertools.product(HIDDEN, PAIRS)))
def test_costate_gradients_equal_autograd(act, pair):
    out, loss = pair
    n_out = 1 if out == "logistic" else 3
    g = torch.Generator().manual_seed(1)
    x = torch.randn(7, 3, generator=g, dtype=torch.float64)
    z = _targets(out, loss, 7, n_out, g)
    net = _net(act, out, n_out)
    ref = _net(act, out, n_out)
    ref.use_costate = False  # plain autograd through torch ops
    E_ref = loss(ref(x), z)
    g_ref = torch.autograd.grad(E_ref, list(ref.parameters()))
    # 1) the explicit training step (no autograd graph)
    E = costate_backward(net, x, z, loss)
    torch.testing.assert_close(E, E_ref.detach())
    for p, gr in zip(net.parameters(), g_ref):
        torch.testing.assert_close(p.grad, gr)
    # 2) the autograd.Function whose backward is the recursion
    net.zero_grad()
    g_fn = torch.autograd.grad(loss(net(x), z), list(net.parameters()))
    for a, b in zip(g_fn, g_ref):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("act", HIDDEN)
@pytest.mark.parametrize("out", ["linear", "logistic", "softmax", "tanh"])
def test_gradcheck_float64(act, out):
    net = _net(act, out, 2)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 3, generator=g, dtype=torch.float64) * 0.7 + 0.05
    params = [p.detach().clone().requires_grad_(True) for p in net.flat_params()]

    def f(x, *ps):
        from deepnets.backprop import CostateMLP

        return CostateMLP.apply(x, tuple(net.activations), *ps)

    assert torch.autograd.gradcheck(f, (x.requires_grad_(True), *params))


def test_double_backward_through_recursion():
    net = _net("tanh", "linear", 2)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_(True) for p in net.flat_params()]
    from deepnets.backprop import CostateMLP

    assert torch.autograd.gradgradcheck(lambda x, *ps: CostateMLP.apply(x, tuple(net.activations), *ps),
                                        (x, *params))


def test_hessian_vector_product_with_create_graph():
    net = _net("tanh", "linear", 1)
    ref = _net("tanh", "linear", 1)
    ref.use_costate = False
    x = torch.randn(6, 3, dtype=torch.float64)
    z = torch.randn(6, 1, dtype=torch.float64)
    vs = [torch.randn_like(p) for p in net.parameters()]

    def hvp(m):
        ps = list(m.parameters())
        gs = torch.autograd.grad(LMS()(m(x), z), ps, create_graph=True)
        return torch.autograd.grad(sum((g * v).sum() for g, v in zip(gs, vs)), ps)

    for a, b in zip(hvp(net), hvp(ref)):
        torch.testing.assert_close(a, b)


def test_costates_are_the_partial_derivatives():
    """λ(l) = ∂E/∂ẑ(l) and δ(l) = ∂E/∂ŷ(l), checked with autograd on the layer outputs."""
    net = MLP([3, 6, 5, 2], activation="logistic", output="softmax", seed=3, dtype=torch.float64)
    x = torch.randn(8, 3, dtype=torch.float64)
    z = torch.randint(0, 2, (8,))
    lams, deltas = costates(net, x, z, "cross_entropy")
    # rebuild the forward pass with every ŷ(l) and ẑ(l) as a leaf of the graph
    ys, zs, h = [], [], x
    for layer, act in zip(net.layers, net.activations):
        y = layer(h)
        y.retain_grad()
        h = act(y) if act.name != "softmax" else torch.softmax(y, -1)
        h.retain_grad()
        ys.append(y)
        zs.append(h)
    CrossEntropy(outputs="probabilities")(h, z).backward()
    for l in range(3):
        torch.testing.assert_close(deltas[l], ys[l].grad)
        torch.testing.assert_close(lams[l], zs[l].grad)


def test_vanishing_error_signals_in_deep_sigmoid_nets():
    """‖δ(l)‖ shrinks towards the input in a deep logistic net (g' ≤ 1/4), not with ReLU."""
    torch.manual_seed(0)
    x, z = torch.randn(64, 10), torch.randn(64, 1)
    sig = MLP([10] + [32] * 8 + [1], activation="logistic", init="xavier", seed=0)
    _, d = costates(sig, x, z)
    norms = [float(t.norm(dim=1).mean()) for t in d]
    assert norms[0] < norms[-2] / 100  # two orders of magnitude lost over 7 layers
    assert all(a < b for a, b in zip(norms[:-2], norms[1:-1]))


def test_forward_layers_matches_module():
    net = MLP([4, 3, 2], activation="elu", output="logistic", seed=0)
    x = torch.randn(5, 4)
    zs = forward_layers(x, [p.detach() for p in net.flat_params()], net.activations)
    torch.testing.assert_close(zs[-1], net(x).detach())


def test_functorch_transforms_use_autograd_path():
    net = MLP([3, 4, 2], activation="tanh", seed=0, dtype=torch.float64)
    params = {k: v.detach() for k, v in net.named_parameters()}
    x = torch.randn(3, dtype=torch.float64)
    jac = torch.func.jacrev(lambda p: torch.func.functional_call(net, p, (x.unsqueeze(0),)))(params)
    # central differences on one weight
    eps = 1e-6
    W = params["layers.0.weight"]
    Wp, Wm = W.clone(), W.clone()
    Wp[1, 2] += eps
    Wm[1, 2] -= eps
    f = lambda W_: torch.func.functional_call(net, {**params, "layers.0.weight": W_}, (x.unsqueeze(0),))  # noqa: E731
    fd = (f(Wp) - f(Wm)) / (2 * eps)
    torch.testing.assert_close(jac["layers.0.weight"][0, :, 1, 2], fd[0], atol=1e-7, rtol=1e-6)
