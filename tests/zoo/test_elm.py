"""The extreme learning machine against independent answers: scikit-learn's Ridge, Lasso and
ElasticNet on the same hidden features, a brute-force GCV built from the explicit hat matrix, and
the LASSO optimality (KKT) conditions of the lecture's cost."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge

from deepnets.errors import ConfigError, DataError
from deepnets.zoo import ELM
from deepnets.zoo.elm_solve import gcv_scores


def _data(n=60, f=4, c=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, f, generator=g, dtype=torch.float64)
    z = torch.stack([torch.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2 + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
                     for _ in range(c)], 1) + torch.arange(c, dtype=torch.float64) * 3.0  # (N, C), offsets
    return x, z


def _machine(f, k, c, activation="tanh"):
    return ELM(f, k, c, activation=activation, seed=3).double()


@pytest.mark.parametrize("k, lam", [(30, 0.7), (100, 0.05)])  # K < N and K > N (an underdetermined H)
def test_ridge_equals_sklearn_ridge_on_the_hidden_features(k, lam):
    x, z = _data()
    elm = _machine(4, k, 2).solve(x, z, lam=lam)
    H = elm.hidden(x).numpy()
    ref = Ridge(alpha=lam, fit_intercept=True, solver="svd").fit(H, z.numpy())
    np.testing.assert_allclose(elm.output.weight.detach().numpy(), ref.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(elm.output.bias.detach().numpy(), ref.intercept_, rtol=1e-7, atol=1e-9)
    assert elm.lam_ == lam


def test_lambda_zero_is_least_squares():
    x, z = _data()
    elm = _machine(4, 20, 2).solve(x, z, lam=0)
    H = elm.hidden(x).numpy()
    ref = LinearRegression().fit(H, z.numpy())
    np.testing.assert_allclose(elm.output.weight.detach().numpy(), ref.coef_, rtol=1e-6, atol=1e-8)


def _brute_gcv(H, Z, lam):
    """N ‖(I − A)Z‖² / tr(I − A)² with the hat matrix A of ridge-with-intercept built explicitly."""
    N, K = H.shape
    Hc = H - H.mean(0)
    A = np.full((N, N), 1.0 / N) + Hc @ np.linalg.solve(Hc.T @ Hc + lam * np.eye(K), Hc.T)
    R = (np.eye(N) - A) @ Z
    return N * (R ** 2).sum() / np.trace(np.eye(N) - A) ** 2


def test_gcv_lambda_equals_a_brute_force_gcv_over_the_grid():
    x, z = _data(n=50)
    elm = _machine(4, 40, 2)
    grid = np.logspace(-4, 3, 29)
    elm.solve(x, z, lambdas=grid)
    H = elm.hidden(x).numpy()
    brute = np.array([_brute_gcv(H, z.numpy(), lam) for lam in grid])
    np.testing.assert_allclose(gcv_scores(elm.hidden(x), z, grid).numpy(), brute, rtol=1e-8)
    assert elm.lam_ == grid[np.argmin(brute)]
    assert 0 < np.argmin(brute) < len(grid) - 1  # an interior minimum: the choice is not a grid edge
    ref = Ridge(alpha=elm.lam_, solver="svd").fit(H, z.numpy())
    np.testing.assert_allclose(elm.output.weight.detach().numpy(), ref.coef_, rtol=1e-7, atol=1e-9)


def test_default_gcv_grid_reaches_the_brute_force_minimum_near_it():
    x, z = _data(n=50)
    elm = _machine(4, 40, 2).solve(x, z)  # λ from the default grid
    H = elm.hidden(x).numpy()
    best = _brute_gcv(H, z.numpy(), elm.lam_)
    for factor in (0.5, 2.0):  # a neighbour at a grid step's distance is no better
        assert best <= _brute_gcv(H, z.numpy(), elm.lam_ * factor) + 1e-12


def _kkt(H, z, v, v0, lam, rho):
    """The subgradient conditions of ½‖z − Hv − v0‖² + λ(ρ‖v‖₁ + (1−ρ)/2‖v‖²)."""
    r = z - H @ v - v0
    grad = H.T @ r - lam * (1 - rho) * v  # must equal λρ sign(v) on the support, |·| ≤ λρ off it
    on = v != 0
    np.testing.assert_allclose(grad[on], lam * rho * np.sign(v[on]), rtol=1e-3, atol=1e-4 * lam)
    assert np.all(np.abs(grad[~on]) <= lam * rho * (1 + 1e-3))
    assert abs(r.sum()) < 1e-6 * len(z)  # the unpenalised intercept


@pytest.mark.parametrize("penalty, rho", [("lasso", 1.0), ("elastic_net", 0.4)])
def test_sparse_penalties_equal_sklearn_and_satisfy_the_lecture_cost_kkt(penalty, rho):
    x, z = _data(n=80, c=1)
    lam = 2.0
    elm = _machine(4, 30, 1).solve(x, z, lam=lam, penalty=penalty, l1_ratio=rho)
    H, Z = elm.hidden(x).numpy(), z.numpy().ravel()
    ref = (Lasso(alpha=lam / len(Z), max_iter=20000, tol=1e-10) if penalty == "lasso"
           else ElasticNet(alpha=lam / len(Z), l1_ratio=rho, max_iter=20000, tol=1e-10)).fit(H, Z)
    v = elm.output.weight.detach().numpy()[0]
    np.testing.assert_allclose(v, ref.coef_, atol=1e-4)
    assert 0 < (v != 0).sum() < len(v)  # sparse: some weights are exactly zero, some not
    _kkt(H, Z, v.astype(np.float64), float(elm.output.bias.detach()[0]), lam, rho)
    assert elm.lam_ == [lam]


def test_lasso_without_lambda_picks_it_by_cross_validation():
    x, z = _data(n=60, c=2)
    elm = _machine(4, 20, 2).solve(x, z, penalty="lasso")
    assert len(elm.lam_) == 2 and all(lam > 0 for lam in elm.lam_)


def test_classification_fits_one_hot_targets_and_the_argmax_classifies_digits():
    X, y = load_digits(return_X_y=True)
    X = (X - X[:1200].mean(0)) / (X[:1200].std(0) + 1e-8)
    x, t = torch.from_numpy(X), torch.from_numpy(y)
    elm = ELM(64, 400, 10, seed=0).double().solve(x[:1200], t[:1200], lam=1.0)
    H = elm.hidden(x[:1200]).numpy()
    ref = Ridge(alpha=1.0, solver="svd").fit(H, np.eye(10)[y[:1200]])
    np.testing.assert_allclose(elm.output.weight.detach().numpy(), ref.coef_, rtol=1e-6, atol=1e-8)
    accuracy = (elm(x[1200:]).argmax(1) == t[1200:]).double().mean()
    assert accuracy > 0.9


def test_hidden_layer_is_fixed_and_seeded():
    a, b = ELM(3, 10, 1, seed=5), ELM(3, 10, 1, seed=5)
    assert torch.equal(a.weight, b.weight) and not torch.equal(a.weight, ELM(3, 10, 1, seed=6).weight)
    assert {n for n, _ in a.named_parameters()} == {"output.weight", "output.bias"}  # w, w0 are buffers
    assert set(a.state_dict()) == {"weight", "bias", "output.weight", "output.bias"}


def test_mistakes_are_clear_errors():
    x, z = _data(n=10, c=1)
    elm = _machine(4, 5, 1)
    with pytest.raises(ConfigError, match="penalty must be one of"):
        elm.solve(x, z, penalty="lasso2")
    with pytest.raises(DataError, match=r"shape \(N, 4\), got \(10, 3\)"):
        elm.solve(x[:, :3], z)
    with pytest.raises(DataError, match=r"labels must lie in \[0, 2\]"):
        _machine(4, 5, 3).solve(x, torch.arange(10) % 4)
    with pytest.raises(DataError, match="1 sample"):
        elm.solve(x[:1], z[:1])
    with pytest.raises(DataError, match="lam must be a finite number >= 0"):
        elm.solve(x, z, lam=-1.0)
    with pytest.raises(DataError, match="NaN or inf"):
        elm.solve(x, z * float("nan"))
