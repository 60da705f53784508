import numpy as np
import pytest
import torch
from scipy.optimize import minimize, rosen, rosen_der

from deepnets.optim import ScaledConjugateGradient
from deepnets.optim.scaled_conjugate_gradient import scg_adapt_lambda, scg_comparison, scg_make_positive


def minimise(fun, x0, **kwargs):
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = ScaledConjugateGradient([x], **kwargs)

    def closure():
        opt.zero_grad()
        loss = fun(x)
        loss.backward()
        return loss

    opt.step(closure)
    return x.detach().numpy(), opt.state[x]


def test_scale_rules_by_hand():
    # delta = -2 <= 0 with lam = 1, |p|^2 = 4: lam_bar = 2 (1 + 2/4) = 3, delta = 2 + 1*4 = 6.
    assert scg_make_positive(-2.0, 1.0, 4.0) == (6.0, 3.0, 3.0)
    assert scg_make_positive(5.0, 1.0, 4.0) == (5.0, 1.0, 1.0)
    # Delta = 2 delta (E - E_new) / mu^2 = 2 * 2 * (5 - 4) / 9
    assert scg_comparison(2.0, 3.0, 5.0, 4.0) == pytest.approx(4 / 9)
    assert scg_adapt_lambda(1.0, 0.9, 2.0, 4.0) == 0.25  # good model: lam / 4
    assert scg_adapt_lambda(1.0, 0.5, 2.0, 4.0) == 1.0  # between: unchanged
    assert scg_adapt_lambda(1.0, -1.0, 2.0, 4.0) == 2.0  # poor model: lam + 2 * (1 + 1) / 4


def test_quadratic_reaches_the_solution():
    gen = torch.Generator().manual_seed(0)
    n = 10
    Q = torch.randn(n, n, generator=gen, dtype=torch.float64)
    A = Q @ Q.T + torch.eye(n, dtype=torch.float64)
    b = torch.randn(n, generator=gen, dtype=torch.float64)
    x, state = minimise(lambda x: 0.5 * x @ A @ x - b @ x, np.zeros(n), max_iter=60, tolerance_grad=1e-10)
    np.testing.assert_allclose(x, torch.linalg.solve(A, b).numpy(), atol=1e-6)


def test_rosenbrock_matches_scipy_cg():
    start = [-1.2, 1.0]
    ref = minimize(rosen, start, jac=rosen_der, method="CG", options={"gtol": 1e-9})
    x, _ = minimise(lambda x: 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2, start,
                    max_iter=3000, tolerance_grad=1e-9)
    np.testing.assert_allclose(x, ref.x, atol=1e-5)


def test_invalid_options_raise():
    x = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid sigma: 0"):
        ScaledConjugateGradient([x], sigma=0)
    with pytest.raises(ValueError, match="Invalid lambd: -1"):
        ScaledConjugateGradient([x], lambd=-1)
