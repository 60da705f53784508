import numpy as np
import pytest
import torch
from scipy.optimize import minimize, rosen, rosen_der

from deepnets.optim import MemorylessQuasiNewton, memoryless_bfgs_direction

ROSEN_START = [-1.2, 1.0]


def minimise(fun, x0, **kwargs):
    x = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = MemorylessQuasiNewton([x], **kwargs)

    def closure():
        opt.zero_grad()
        loss = fun(x)
        loss.backward()
        return loss

    opt.step(closure)
    return x.detach().numpy(), opt.state[x]


def spd_problem(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    Q = torch.randn(n, n, generator=g, dtype=torch.float64)
    return Q @ Q.T + torch.eye(n, dtype=torch.float64), torch.randn(n, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("scale", [True, False])
def test_direction_is_minus_the_bfgs_updated_identity_times_g(scale):
    gen = torch.Generator().manual_seed(1)
    g, s, y = (torch.randn(5, generator=gen, dtype=torch.float64) for _ in range(3))
    y = y + 2 * s  # keeps y^T s > 0
    rho = 1 / (y @ s)
    gamma = (y @ s) / (y @ y) if scale else 1.0
    I = torch.eye(5, dtype=torch.float64)
    H = (I - rho * torch.outer(s, y)) @ (gamma * I) @ (I - rho * torch.outer(y, s)) + rho * torch.outer(s, s)
    torch.testing.assert_close(memoryless_bfgs_direction(g, s, y, scale=scale), -H @ g)
    # The secant condition H y = s holds for the matrix the direction comes from.
    torch.testing.assert_close(H @ y, s)


def test_quadratic_ends_in_at_most_n_iterations():
    n = 10
    A, b = spd_problem(n, seed=2)
    x_star = torch.linalg.solve(A, b).numpy()
    x, state = minimise(lambda x: 0.5 * x @ A @ x - b @ x, np.zeros(n), max_iter=n,
                        c2=1e-3, tolerance_grad=0.0, tolerance_change=0.0)
    assert state["n_iter"] <= n
    assert np.linalg.norm(x - x_star) <= 1e-8 * max(1.0, np.linalg.norm(x_star))


def test_quadratic_matches_scipy_bfgs():
    n = 8
    A, b = spd_problem(n, seed=5)
    An, bn = A.numpy(), b.numpy()
    ref = minimize(lambda x: 0.5 * x @ An @ x - bn @ x, np.ones(n), jac=lambda x: An @ x - bn,
                   method="BFGS", options={"gtol": 1e-10})
    x, _ = minimise(lambda x: 0.5 * x @ A @ x - b @ x, np.ones(n), max_iter=100,
                    tolerance_grad=1e-10, tolerance_change=0.0)
    np.testing.assert_allclose(x, ref.x, atol=1e-6)


@pytest.mark.parametrize("scale", [True, False])
def test_rosenbrock_matches_scipy_bfgs(scale):
    ref = minimize(rosen, ROSEN_START, jac=rosen_der, method="BFGS", options={"gtol": 1e-9})
    x, _ = minimise(lambda x: 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2, ROSEN_START,
                    scale=scale, max_iter=3000, tolerance_grad=1e-9, tolerance_change=0.0)
    np.testing.assert_allclose(x, ref.x, atol=1e-5)
    np.testing.assert_allclose(x, [1.0, 1.0], atol=1e-5)


def test_invalid_options_raise():
    x = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: 0"):
        MemorylessQuasiNewton([x], lr=0)
    with pytest.raises(ValueError, match="Invalid max_iter: 0"):
        MemorylessQuasiNewton([x], max_iter=0)
