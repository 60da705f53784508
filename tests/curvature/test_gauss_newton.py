import pytest
import torch
from torch import nn
from torch.func import functional_call, hessian

from deepnets.curvature import (ParamLayout, gauss_newton, make_positive_definite,
                                per_sample_jacobian)
from deepnets.errors import ConfigError
from twins import mlp_and_twin


def _flat_hessian(net, x, loss_of_outputs):
    layout = ParamLayout.from_module(net)
    w = layout.flatten(dict(net.named_parameters())).detach()
    return hessian(lambda w: loss_of_outputs(functional_call(net, layout.unflatten(w), (x,))))(w)


def test_lms_gauss_newton_equals_hessian_at_zero_residual():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x = torch.randn(9, 3, dtype=torch.float64)
    z = net(x).detach()  # targets equal to the outputs: zero residual
    beta = torch.tensor([2.0, 0.5], dtype=torch.float64)
    H = _flat_hessian(net, x, lambda out: 0.5 * (beta * (z - out) ** 2).sum())
    J, _ = per_sample_jacobian(net, x)
    Q = gauss_newton(J, "mse", beta=beta)
    assert torch.allclose(Q, H, atol=1e-10)
    # away from zero residual the neglected term is not zero: the comparison can fail
    H2 = _flat_hessian(net, x, lambda out: 0.5 * (beta * (z + 1 - out) ** 2).sum())
    assert (Q - H2).abs().max() > 1e-3


@pytest.mark.parametrize("loss,n_out", [("cross_entropy", 3), ("cross_entropy", 1), ("bce", 1), ("multiclass", 3)])
def test_cross_entropy_gauss_newton_equals_hessian_for_a_linear_model(loss, n_out):
    # a model linear in w has ∇²_w ẑ = 0, so the Gauss-Newton matrix is the exact Hessian
    torch.manual_seed(3)
    net = nn.Linear(4, n_out).double()
    x = torch.randn(11, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (11,))
    t = torch.rand(11, 1, dtype=torch.float64)
    if n_out > 1:  # softmax over the logits
        E = lambda out: nn.functional.cross_entropy(out, y, reduction="sum")
    else:  # one logit: Bernoulli
        E = lambda out: nn.functional.binary_cross_entropy_with_logits(out, t, reduction="sum")
    H = _flat_hessian(net, x, E)
    J, _ = per_sample_jacobian(net, x)
    Q = gauss_newton(J, loss, outputs=net(x).detach())
    assert torch.allclose(Q, H, atol=1e-10)


def test_old_names_are_aliases_with_one_meaning():
    J = torch.randn(5, 3, 4, dtype=torch.float64)
    a = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(gauss_newton(J, "mse", beta=2.0), gauss_newton(J, "lms", beta=2.0))
    torch.testing.assert_close(gauss_newton(J, "regression"), gauss_newton(J, "lms"))
    torch.testing.assert_close(gauss_newton(J, "multiclass", outputs=a), gauss_newton(J, "cross_entropy", outputs=a))
    with pytest.raises(ConfigError, match="'bce' is 'cross_entropy' on one output, got 3"):
        gauss_newton(J, "bce", outputs=a)  # not independent sigmoids: one name, one meaning
    with pytest.raises(ConfigError, match="'lp' has no likelihood curvature"):
        gauss_newton(J, "lp")


@pytest.mark.parametrize("n_out", [3, 1])
def test_an_mlp_and_its_sequential_twin_have_the_same_curvature(n_out):
    """The MLP's probabilities are taken through its logits: Q = Σ G Λ Gᵀ on a = ŷ(L) equals the
    curvature of nn.Sequential(Linear, Tanh, Linear) with the same weights, and both equal the
    Gauss-Newton part of the exact Hessian of torch's cross-entropy on the twin's logits."""
    from deepnets.losses import likelihood_model

    net, seq = mlp_and_twin(3, 4, n_out, seed=2)
    x = torch.randn(9, 3, dtype=torch.float64)
    Qs = []
    for model in (net, seq):
        f = likelihood_model(model, "cross_entropy")
        J, _ = per_sample_jacobian(f, x)
        Qs.append(gauss_newton(J, "cross_entropy", outputs=f(x).detach()))
    torch.testing.assert_close(Qs[0], Qs[1], rtol=0, atol=1e-12)


def test_alpha_is_added_to_the_diagonal_and_missing_logits_raise():
    J = torch.randn(5, 2, 4, dtype=torch.float64)
    Q0 = gauss_newton(J)
    Q1 = gauss_newton(J, alpha=torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
    assert torch.allclose(torch.diag(Q1 - Q0), torch.tensor([1.0, 2, 3, 4], dtype=torch.float64))
    with pytest.raises(ConfigError, match="logits"):
        gauss_newton(J, "cross_entropy")
    with pytest.raises(ConfigError, match="unknown likelihood 'hinge'"):
        gauss_newton(J, "hinge")


def test_make_positive_definite_adds_just_enough():
    Q = torch.diag(torch.tensor([-2.0, 1.0, 3.0], dtype=torch.float64))
    R = torch.randn(3, 3, dtype=torch.float64)
    U, _ = torch.linalg.qr(R)
    Q = U @ Q @ U.T
    Qpd, mu = make_positive_definite(Q)
    assert 2.0 < mu < 2.0 + 1e-4
    assert torch.linalg.eigvalsh(Qpd)[0] > 0
    same, mu0 = make_positive_definite(torch.eye(3))
    assert mu0 == 0.0 and torch.equal(same, torch.eye(3))
    _, mu2 = make_positive_definite(torch.eye(3), mu=0.5)
    assert mu2 == 0.5
    with pytest.raises(ConfigError):
        make_positive_definite(torch.eye(3), mu=-1.0)
