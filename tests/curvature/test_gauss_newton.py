import pytest
import torch
from torch import nn
from torch.func import functional_call, hessian

from deepnets.curvature import (ParamLayout, gauss_newton, make_positive_definite,
                                per_sample_jacobian)
from deepnets.errors import ConfigError


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


@pytest.mark.parametrize("loss", ["cross_entropy", "bce"])
def test_cross_entropy_gauss_newton_equals_hessian_for_a_linear_model(loss):
    # a model linear in w has ∇²_w ẑ = 0, so the Gauss-Newton matrix is the exact Hessian
    torch.manual_seed(3)
    net = nn.Linear(4, 3).double()
    x = torch.randn(11, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (11,))
    t = torch.rand(11, 3, dtype=torch.float64)
    losses = {
        "cross_entropy": lambda out: nn.functional.cross_entropy(out, y, reduction="sum"),
        "bce": lambda out: nn.functional.binary_cross_entropy_with_logits(out, t, reduction="sum"),
    }
    H = _flat_hessian(net, x, losses[loss])
    J, _ = per_sample_jacobian(net, x)
    Q = gauss_newton(J, loss, outputs=net(x).detach())
    assert torch.allclose(Q, H, atol=1e-10)


def test_alpha_is_added_to_the_diagonal_and_missing_logits_raise():
    J = torch.randn(5, 2, 4, dtype=torch.float64)
    Q0 = gauss_newton(J)
    Q1 = gauss_newton(J, alpha=torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
    assert torch.allclose(torch.diag(Q1 - Q0), torch.tensor([1.0, 2, 3, 4], dtype=torch.float64))
    with pytest.raises(ConfigError, match="logits"):
        gauss_newton(J, "cross_entropy")
    with pytest.raises(ConfigError, match="unknown loss"):
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
