import numpy as np
import pytest
import torch
from scipy.optimize import minimize, rosen, rosen_der

from deepnets.optim import ConjugateGradient
from deepnets.optim.conjugate_gradient import beta_fletcher_reeves, beta_polak_ribiere_plus

ROSEN_START = [-1.2, 1.0]


def spd_problem(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    Q = torch.randn(n, n, generator=g, dtype=torch.float64)
    A = Q @ Q.T + torch.eye(n, dtype=torch.float64)  # (n, n), symmetric positive definite
    b = torch.randn(n, generator=g, dtype=torch.float64)
    return A, b


def minimise(opt_cls, fun, x0, **kwargs):
    """Run opt_cls.step(closure) on fun (torch -> scalar) from x0; returns x and the optimizer."""
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = opt_cls([x], **kwargs)

    def closure():
        opt.zero_grad()
        loss = fun(x)
        loss.backward()
        return loss

    opt.step(closure)
    return x.detach().numpy(), opt.state[x]


def torch_rosen(x):
    return 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2


@pytest.mark.parametrize("beta", ["polak_ribiere", "fletcher_reeves"])
def test_quadratic_ends_in_at_most_n_iterations(beta):
    n = 12
    A, b = spd_problem(n)
    x_star = torch.linalg.solve(A, b).numpy()
    # A small c2 makes the line search (nearly) exact, as the finite-termination theorem needs.
    x, state = minimise(
        ConjugateGradient, lambda x: 0.5 * x @ A @ x - b @ x, np.zeros(n),
        beta=beta, max_iter=n, c2=1e-3, tolerance_grad=0.0, tolerance_change=0.0,
    )
    assert state["n_iter"] <= n
    assert np.linalg.norm(x - x_star) <= 1e-8 * max(1.0, np.linalg.norm(x_star))


def test_quadratic_matches_scipy_cg():
    n = 8
    A, b = spd_problem(n, seed=3)
    An, bn = A.numpy(), b.numpy()
    ref = minimize(lambda x: 0.5 * x @ An @ x - bn @ x, np.ones(n), jac=lambda x: An @ x - bn,
                   method="CG", options={"gtol": 1e-10})
    x, _ = minimise(ConjugateGradient, lambda x: 0.5 * x @ A @ x - b @ x, np.ones(n), max_iter=100,
                    tolerance_grad=1e-10, tolerance_change=0.0)
    np.testing.assert_allclose(x, ref.x, atol=1e-6)


@pytest.mark.parametrize("beta", ["polak_ribiere", "fletcher_reeves"])
def test_rosenbrock_matches_scipy_cg(beta):
    ref = minimize(rosen, ROSEN_START, jac=rosen_der, method="CG", options={"gtol": 1e-9})
    x, _ = minimise(ConjugateGradient, torch_rosen, ROSEN_START, beta=beta, max_iter=2000,
                    tolerance_grad=1e-9, tolerance_change=0.0)
    np.testing.assert_allclose(x, ref.x, atol=1e-5)
    np.testing.assert_allclose(x, [1.0, 1.0], atol=1e-5)


def test_beta_rules_by_hand():
    g_prev = torch.tensor([1.0, 2.0])  # |g_prev|^2 = 5
    g = torch.tensor([2.0, 1.0])  # |g|^2 = 5, g.(g - g_prev) = 2*1 + 1*(-1) = 1
    assert beta_fletcher_reeves(g, g_prev) == pytest.approx(1.0)
    assert beta_polak_ribiere_plus(g, g_prev) == pytest.approx(0.2)
    # g = (0.5, 0): g.(g - g_prev) = 0.5 * (-0.5) + 0 * (-2) = -0.25 < 0, so PR+ clips to 0.
    assert beta_polak_ribiere_plus(torch.tensor([0.5, 0.0]), g_prev) == 0.0


def test_restart_period_one_is_steepest_descent():
    # With restart=1 every direction is -g, so CG must agree with a hand-run steepest descent
    # with the same line search: compare the iterates after one iteration.
    A = torch.diag(torch.tensor([1.0, 10.0], dtype=torch.float64))
    f = lambda x: 0.5 * x @ A @ x
    x_cg, _ = minimise(ConjugateGradient, f, [1.0, 1.0], restart=1, max_iter=1, c2=1e-3)
    g = A @ torch.tensor([1.0, 1.0], dtype=torch.float64)
    alpha = float(g @ g / (g @ A @ g))  # exact line-search step along -g
    np.testing.assert_allclose(x_cg, (torch.tensor([1.0, 1.0], dtype=torch.float64) - alpha * g).numpy(), atol=1e-9)


def test_invalid_options_raise():
    x = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        ConjugateGradient([x], lr=-1)
    with pytest.raises(ValueError, match="beta rule"):
        ConjugateGradient([x], beta="hestenes")
    with pytest.raises(ValueError, match="Wolfe"):
        ConjugateGradient([x], c1=0.5, c2=0.1)
    with pytest.raises(ValueError, match="parameter groups"):
        ConjugateGradient([{"params": [x]}, {"params": [torch.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="closure"):
        ConjugateGradient([x]).step()
