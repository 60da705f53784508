import pytest
import torch
from torch import nn
from torch.func import functional_call, hessian, vmap

from deepnets.errors import ConfigError
from deepnets.regularizers import (
    REGULARIZERS,
    AdaptiveLambda,
    CurvatureSmoothing,
    WeightDecay,
    WeightElimination,
    build_regularizer,
    curvature_penalty,
)

# torch.func.hessian (the reference below) imports torch's jvp decompositions, which call the
# deprecated torch.jit.script inside torch.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def two_layer(dtype=torch.float64):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).to(dtype)


def test_sgd_with_weight_decay_is_the_lectures_update_form():
    # One linear unit, zhat = w.x + b, E = (zhat - z)^2 / 2 with x = (1, 2), z = 0.5,
    # w = (0.5, -1), b = 0.25: zhat = -1.25, delta = zhat - z = -1.75, dE/dw = delta x = (-1.75, -3.5).
    # eta = 0.5, gamma = 0.1: w <- (1 - 0.05) w - 0.5 delta x = (0.475 + 0.875, -0.95 + 1.75) = (1.35, 0.8);
    # the bias is not decayed: b <- 0.25 - 0.5 * (-1.75) = 1.125.
    model = torch.nn.Linear(2, 1).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.5, -1.0]]))
        model.bias.fill_(0.25)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    loss = 0.5 * (model(x) - 0.5).pow(2).sum() + WeightDecay(gamma=0.1)(model)
    loss.backward()
    opt.step()
    torch.testing.assert_close(model.weight.detach(), torch.tensor([[1.35, 0.8]], dtype=torch.float64))
    assert model.bias.item() == pytest.approx(1.125, abs=1e-15)


def test_per_layer_gamma_as_list_and_dict():
    model = two_layer()
    w1, w2 = model[0].weight, model[2].weight
    expected = 0.1 * 0.5 * w1.pow(2).sum() + 0.02 * 0.5 * w2.pow(2).sum()
    torch.testing.assert_close(WeightDecay(gamma=[0.1, 0.02])(model), expected)
    torch.testing.assert_close(WeightDecay(gamma={"0": 0.1, "2.weight": 0.02})(model), expected)
    # Names not in the dict get gamma = 0; "all" brings in the biases too.
    torch.testing.assert_close(WeightDecay(gamma={"2": 0.02})(model), 0.02 * 0.5 * w2.pow(2).sum())
    all_sq = sum(p.pow(2).sum() for p in model.parameters())
    torch.testing.assert_close(WeightDecay(gamma=1.0, params="all")(model), 0.5 * all_sq)


def test_gamma_mistakes_name_what_was_expected():
    model = two_layer()
    with pytest.raises(ConfigError, match=r"3 values but the model has 2 'weights' tensors: \['0.weight', '2.weight'\]"):
        WeightDecay(gamma=[0.1, 0.1, 0.1])(model)
    with pytest.raises(ConfigError, match="'4'"):
        WeightDecay(gamma={"4": 0.1})(model)
    with pytest.raises(ConfigError, match="gamma must be a finite number >= 0, got -1"):
        WeightDecay(gamma=-1)
    with pytest.raises(ConfigError, match="params must be one of"):
        WeightDecay(params="biases")


def test_weight_elimination_value_and_gradient_by_hand():
    model = torch.nn.Linear(3, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0, 0.0]]))
    # w0 = 2: (w/w0)^2 = (0.25, 1, 0) -> 0.25/1.25 + 1/2 + 0 = 0.7; times gamma = 0.5 -> 0.35.
    penalty = WeightElimination(gamma=0.5, w0=2.0)(model)
    assert penalty.item() == pytest.approx(0.35, abs=1e-15)
    penalty.backward()
    # d/dw [r^2 / (1 + r^2)] with r = w/w0 is (2 w / w0^2) / (1 + r^2)^2.
    w = torch.tensor([1.0, -2.0, 0.0], dtype=torch.float64)
    expected = 0.5 * (2 * w / 4) / (1 + (w / 2) ** 2) ** 2
    torch.testing.assert_close(model.weight.grad[0], expected)


def test_weight_elimination_small_weights_act_like_weight_decay():
    model = torch.nn.Linear(4, 1, bias=False).double()
    with torch.no_grad():
        model.weight.mul_(1e-4)
    we = WeightElimination(gamma=1.0, w0=1.0)(model)
    wd = WeightDecay(gamma=2.0)(model)  # 2 * sum w^2 / 2 = sum w^2
    assert we.item() == pytest.approx(wd.item(), rel=1e-6)


def test_adaptive_lambda_follows_weigends_rule():
    penalty = WeightElimination(gamma=1e-3)
    rule = AdaptiveLambda(penalty, target_error=0.5, delta_lambda=1e-4, cut=0.9, average=0.5)
    # lambda starts at 1e-3; A_n = 0.5 A_{n-1} + 0.5 E_n, D = 0.5.
    # E 2.0 -> 1.0 (A = 1.0): the error fell, increment to 1.1e-3.
    assert rule.update(1.0, 2.0) == pytest.approx(1.1e-3)
    # E 1.0 -> 1.2 (A = 1.1): rose, at or above the average and D: cut to 0.99e-3.
    assert rule.update(1.2, 1.0) == pytest.approx(0.99e-3)
    # E 1.2 -> 1.3 (A = 1.2): cut again to 0.891e-3.
    assert rule.update(1.3, 1.2) == pytest.approx(0.891e-3)
    # E 0.9 -> 1.0 (A = 1.1): rose but below the average: decrement to 0.791e-3.
    assert rule.update(1.0, 0.9) == pytest.approx(0.791e-3)
    # E 0.4 -> 0.45 (A = 0.775): rose, but below D: increment to 0.891e-3.
    assert rule.update(0.45, 0.4) == pytest.approx(0.891e-3)
    assert penalty.gamma == pytest.approx(0.891e-3)


def test_adaptive_lambda_needs_one_gamma():
    with pytest.raises(ConfigError, match="one float gamma"):
        AdaptiveLambda(WeightElimination(gamma=[0.1, 0.2]))


def _curvature_by_hessian(model, x):
    params = dict(model.named_parameters())

    def penalty(params):
        f = lambda xi: functional_call(model, params, (xi,))  # (p,) -> (C,)
        H = vmap(hessian(f))(x)  # (N, C, p, p)
        return H.diagonal(dim1=2, dim2=3).pow(2).sum()

    return penalty(params), params


def test_curvature_penalty_matches_torch_func_hessian_value_and_weight_gradient():
    model = two_layer()
    x = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ours = curvature_penalty(model, x)
    ref, params = _curvature_by_hessian(model, x)
    torch.testing.assert_close(ours, ref)
    names = list(params)
    g_ours = torch.autograd.grad(ours, [params[n] for n in names], allow_unused=True, materialize_grads=True)
    g_ref = torch.autograd.grad(ref, [params[n] for n in names], allow_unused=True, materialize_grads=True)
    for n, a, b in zip(names, g_ours, g_ref):
        torch.testing.assert_close(a, b, msg=n)
    assert g_ours[0].abs().sum() > 0  # the first layer's weights do get a gradient


def test_curvature_smoothing_of_a_linear_model_is_zero_and_needs_x():
    model = torch.nn.Linear(3, 2).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    assert CurvatureSmoothing(gamma=1.0)(model, x).item() == 0.0
    with pytest.raises(ConfigError, match="needs the inputs"):
        CurvatureSmoothing()(model)


def test_curvature_smoothing_by_hand_for_one_tanh_unit():
    # zhat = tanh(w x) with scalar x: d^2 zhat/dx^2 = -2 w^2 t (1 - t^2), t = tanh(w x).
    model = torch.nn.Sequential(torch.nn.Linear(1, 1, bias=False), torch.nn.Tanh()).double()
    with torch.no_grad():
        model[0].weight.fill_(1.5)
    x = torch.tensor([[0.3], [-0.7]], dtype=torch.float64)
    t = torch.tanh(1.5 * x)
    expected = (-2 * 1.5**2 * t * (1 - t**2)).pow(2).sum()
    torch.testing.assert_close(CurvatureSmoothing(gamma=0.5)(model, x), 0.5 * expected)


def test_registry_builds_by_name():
    assert set(REGULARIZERS) == {"weight_decay", "weight_elimination", "curvature_smoothing"}
    assert isinstance(build_regularizer("weight_decay", gamma=[0.1, 0.2]), WeightDecay)
    with pytest.raises(ConfigError, match="unknown regularizer 'l3'"):
        build_regularizer("l3")
    with pytest.raises(ConfigError, match="w_zero"):
        build_regularizer("weight_elimination", w_zero=1.0)


def _net64(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()


@pytest.mark.parametrize("penalty", [
    WeightDecay(gamma=0.1), WeightDecay(gamma=[0.1, 0.02]), WeightDecay(gamma={"0": 0.3}, params="all"),
    WeightElimination(gamma=0.5, w0=0.7), WeightElimination(gamma=[0.2, 0.0], w0=2.0),
    WeightElimination(gamma={"2": 0.1, "0.bias": 1.0}, params="all"),
])
def test_closed_form_gradient_equals_autograd(penalty):
    """add_gradient adds to .grad what penalty(model).backward() would, and returns its value."""
    a, b = _net64(), _net64()
    with torch.no_grad():
        for p in a.parameters():
            p.mul_(3.0)  # weights on both sides of w0
        b.load_state_dict(a.state_dict())
        for p, q in zip(a.parameters(), b.parameters()):
            p.grad, q.grad = torch.full_like(p, 0.25), torch.full_like(q, 0.25)  # a data gradient, kept
    P = penalty(a)
    P.backward()
    got = penalty.add_gradient(b)
    assert torch.allclose(got, P.detach(), rtol=1e-12, atol=1e-14)
    for p, q in zip(a.parameters(), b.parameters()):
        assert q.grad is not None and torch.allclose(q.grad, p.grad, rtol=1e-12, atol=1e-14)


def test_bound_gradient_makes_missing_grads_and_follows_adaptive_lambda():
    model = _net64(1)
    penalty = WeightElimination(gamma=1e-3)
    add = penalty.bind(model)
    add()
    g1 = model[0].weight.grad.clone()
    AdaptiveLambda(penalty, delta_lambda=1e-3).update(1.0, 2.0)  # the error fell: lambda 1e-3 -> 2e-3
    model.zero_grad(set_to_none=True)
    add()
    assert torch.allclose(model[0].weight.grad, 2 * g1, rtol=1e-12)
    assert model[0].bias.grad is None  # biases are not penalised by default


def test_fit_with_a_closed_form_penalty_matches_fit_through_autograd():
    """The step adds the closed-form gradient; the weights after training are those autograd gives."""
    from deepnets import MLP, fit

    class Autograd:  # the same penalty with no closed form: the step differentiates it by autograd
        def __init__(self, p):
            self.p = p

        def __call__(self, model, x=None):
            return self.p(model, x)

    g = torch.Generator().manual_seed(3)
    x = torch.randn(40, 3, generator=g, dtype=torch.float64)
    y = torch.sin(x.sum(1, keepdim=True))
    runs = []
    for penalty in (WeightElimination(gamma=1e-2, w0=0.5), Autograd(WeightElimination(gamma=1e-2, w0=0.5))):
        net = MLP([3, 6, 1], activation="tanh", output="linear", seed=0).double()
        h = fit(net, (x, y), loss="lms", optimizer="sgd", lr=0.1, epochs=5, batch_size=8, penalty=penalty,
                seed=0)
        runs.append((torch.cat([p.detach().reshape(-1) for p in net.parameters()]), h.history["loss"]))
    assert torch.allclose(runs[0][0], runs[1][0], rtol=0, atol=1e-12)
    assert runs[0][1] == pytest.approx(runs[1][1], rel=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "logistic", "lecun_tanh", "logistic:2"])
def test_curvature_smoothing_closed_form_equals_double_backward(activation):
    """Bishop's one-hidden-layer closed form: value and every gradient as autograd gives them
    by differentiating curvature_penalty (double backward) in float64."""
    from deepnets import MLP
    net = MLP([3, 5, 2], activation=activation, output="linear", seed=4).double()
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    penalty = CurvatureSmoothing(gamma=0.3)
    P = penalty(net, x)
    want = torch.autograd.grad(P, net.flat_params(), allow_unused=True, materialize_grads=True)
    for p in net.parameters():
        p.grad = torch.full_like(p, 0.5)  # a data gradient already there is kept
    got = penalty.bind(net)(x)
    assert torch.allclose(got, P.detach(), rtol=1e-12, atol=0)
    for p, g in zip(net.flat_params(), want):
        assert torch.allclose(p.grad - 0.5, g, rtol=1e-10, atol=1e-13)


def test_curvature_smoothing_binds_autograd_where_no_closed_form():
    """Two hidden layers (or any module): the bound penalty differentiates by double backward."""
    from deepnets import MLP
    for net, p_in in ((MLP([2, 3, 3, 1], activation="tanh", seed=0).double(), 2), (two_layer(), 3)):
        x = torch.randn(4, p_in, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        penalty = CurvatureSmoothing(gamma=0.1)
        want = torch.autograd.grad(penalty(net, x), list(net.parameters()), allow_unused=True)
        got = penalty.bind(net)(x)
        assert torch.allclose(got, penalty(net, x).detach())
        for p, g in zip(net.parameters(), want):
            assert (p.grad is None) if g is None else torch.allclose(p.grad, g, rtol=1e-12, atol=1e-15)
