"""The lecture's ARD objective l(α, β) and the log evidence, against closed forms (scipy), central
differences, scipy.optimize, scikit-learn's ARDRegression and MacKay's fixed point."""

import math
import sys

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.optimize import minimize
from sklearn.linear_model import ARDRegression

from deepnets import MLP
from deepnets.bayes import evidence_ard, gradient_ard
from deepnets.bayes.ard_objective import Linearisation, ard_objective, linearise
from deepnets.bayes.evidence import ard_groups
from deepnets.errors import ConfigError, DataError


def _linear_problem(seed=0, N=40, D=4, coef=(1.0, -0.5, 0.0, 0.3)):
    rng = np.random.default_rng(seed)
    Phi = rng.normal(size=(N, D))
    z = Phi @ np.array(coef[:D]) + 0.3 * rng.normal(size=N)
    return Phi, z


def _lin(Phi, z, w0):
    """The linear model f = Φw as a Linearisation at any w₀ (one group per weight)."""
    G = torch.from_numpy(Phi).unsqueeze(1)  # (N, 1, P)
    r = torch.from_numpy(z - Phi @ w0).unsqueeze(1)  # (N, 1)
    return Linearisation(G, r, torch.from_numpy(w0), torch.arange(Phi.shape[1]))


def _hyper_terms(alpha, beta, a, b, c, d):
    """Σ ln Ga(α; a, b) + Σ ln Ga(β; c, d) less their normalisers (the slide's bracketed terms)."""
    lg = stats.gamma.logpdf(alpha, a, scale=1 / b) - (a * np.log(b) - math.lgamma(a))
    lb = stats.gamma.logpdf(beta, c, scale=1 / d) - (c * np.log(d) - math.lgamma(c))
    return lg.sum() + lb


def _closed_forms(Phi, z, alpha, beta):
    """(−ln N(z; 0, I/β + Φ diag(α)⁻¹ Φᵀ), −Σ_n ln N(z_n; φ_nᵀm, 1/β + φ_nᵀ A⁻¹ φ_n)) in numpy/scipy."""
    N = len(z)
    C = np.eye(N) / beta + Phi @ np.diag(1 / alpha) @ Phi.T
    evidence = -stats.multivariate_normal.logpdf(z, np.zeros(N), C)
    A = beta * Phi.T @ Phi + np.diag(alpha)
    m = beta * np.linalg.solve(A, Phi.T @ z)
    var = 1 / beta + np.einsum("np,pq,nq->n", Phi, np.linalg.inv(A), Phi)
    lecture = -stats.norm.logpdf(z, Phi @ m, np.sqrt(var)).sum()
    return evidence, lecture


@pytest.mark.parametrize("hyper", [(1.0, 0.0, 1.0, 0.0), (2.5, 0.7, 3.0, 0.2)])
def test_linear_model_objectives_equal_their_closed_forms(hyper):
    a, b, c, d = hyper
    Phi, z = _linear_problem()
    alpha, beta = np.array([0.3, 2.0, 40.0, 1.1]), 7.0
    w0 = np.random.default_rng(1).normal(size=4)  # any linearisation point: the Newton step is exact
    evidence, lecture = _closed_forms(Phi, z, alpha, beta)
    prior = 0.0 if b == 0 else _hyper_terms(alpha, beta, a, b, c, d)
    la, lb = torch.from_numpy(np.log(alpha)), torch.tensor([np.log(beta)])
    for objective, want in (("evidence", evidence), ("lecture", lecture)):
        got = ard_objective(_lin(Phi, z, w0), la, lb, objective=objective, a=a, b=b, c=c, d=d)
        np.testing.assert_allclose(float(got), want - prior, rtol=1e-10)
    assert abs(evidence - lecture) > 1.0  # the slide's l is not the log evidence


@pytest.mark.parametrize("objective", ["lecture", "evidence"])
def test_gradient_of_a_network_objective_matches_central_differences(objective):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(25, 3, generator=g, dtype=torch.float64)
    y = torch.randn(25, 2, generator=g, dtype=torch.float64)  # two outputs: C × C predictive covariances
    f = MLP([3, 4, 2], activation="tanh", seed=0, dtype=torch.float64)
    layout, _, index = ard_groups(f)
    member = torch.empty(layout.numel, dtype=torch.long)
    for i, grp in enumerate(index):
        member[grp] = i
    lin = linearise(f, x, y, layout, member)
    theta = torch.randn(len(index) + 2, generator=g, dtype=torch.float64)

    def l(t):
        return ard_objective(lin, t[:-2], t[-2:], objective=objective, a=2.0, b=0.3, c=1.5, d=0.1)

    t = theta.clone().requires_grad_()
    (grad,) = torch.autograd.grad(l(t), t)
    h = 1e-6
    fd = torch.stack([(l(theta + h * e) - l(theta - h * e)) / (2 * h) for e in torch.eye(len(theta), dtype=torch.float64)])
    torch.testing.assert_close(grad, fd, rtol=1e-6, atol=1e-6)


def _numpy_objective(theta, Phi, z, objective, a, b, c, d):
    alpha, beta = np.exp(theta[:-1]), np.exp(theta[-1])
    ev, lec = _closed_forms(Phi, z, alpha, beta)
    nll = ev if objective == "evidence" else lec
    return nll - (np.sum((a - 1) * np.log(alpha) - b * alpha) + (c - 1) * np.log(beta) - d * beta)


@pytest.mark.parametrize("objective", ["lecture", "evidence"])
def test_minimiser_agrees_with_scipy_on_a_linear_model(objective):
    a, b, c, d = 2.0, 0.5, 2.0, 0.1  # Gamma hyper-priors keep every α finite
    Phi, z = _linear_problem(seed=2, N=30, D=3)
    x, y = torch.from_numpy(Phi), torch.from_numpy(z[:, None])
    res = gradient_ard(torch.nn.Linear(3, 1, bias=False, dtype=torch.float64), x, y, objective=objective,
                       alpha=1.0, outer=3, steps=200, a=a, b=b, c=c, d=d)
    opt = minimize(_numpy_objective, np.zeros(4), args=(Phi, z, objective, a, b, c, d), method="BFGS",
                   options={"gtol": 1e-9})
    np.testing.assert_allclose(np.log(res.alpha.numpy()), opt.x[:-1], atol=1e-4)
    np.testing.assert_allclose(np.log(res.beta.numpy()), opt.x[-1:], atol=1e-4)
    np.testing.assert_allclose(res.history[-1]["objective"], opt.fun, rtol=1e-9)


def test_evidence_minimiser_agrees_with_sklearn_ard_regression():
    """ARDRegression's λ_1, λ_2, α_1, α_2 put α^λ₁ e^{−λ₂α} on α: the slide's a − 1, b, c − 1, d."""
    Phi, z = _linear_problem(seed=3, N=60, D=4, coef=(1.0, -0.5, 0.05, 0.3))
    l1, l2, a1, a2 = 1.0, 0.5, 1e-6, 1e-6
    sk = ARDRegression(fit_intercept=False, lambda_1=l1, lambda_2=l2, alpha_1=a1, alpha_2=a2,
                       threshold_lambda=1e300, tol=1e-12, max_iter=5000).fit(Phi, z)
    res = gradient_ard(torch.nn.Linear(4, 1, bias=False, dtype=torch.float64), torch.from_numpy(Phi),
                       torch.from_numpy(z[:, None]), objective="evidence", alpha=1.0, outer=3, steps=200,
                       a=l1 + 1, b=l2, c=a1 + 1, d=a2)
    np.testing.assert_allclose(res.alpha.numpy(), sk.lambda_, rtol=1e-4)
    np.testing.assert_allclose(float(res.beta[0]), sk.alpha_, rtol=1e-4)


def test_mackay_fixed_point_is_a_stationary_point_of_the_evidence_not_of_the_lecture_objective():
    """Without hyper-priors, α_k = γ_k/w_k², β = (N − γ)/(2E_D) zero d l_ev/d ln α, d ln β (the slide's l
    is another function: its gradient there is not zero)."""
    Phi, z = _linear_problem(seed=4, N=50, D=3, coef=(1.0, -0.5, 0.2))
    x, y = torch.from_numpy(Phi), torch.from_numpy(z[:, None])
    res = evidence_ard(torch.nn.Linear(3, 1, bias=False, dtype=torch.float64), x, y, alpha=1.0, beta=1.0,
                       outer=100, inner=50)
    theta = torch.cat([res.alpha.log(), res.beta.log()]).requires_grad_()
    w = np.linalg.lstsq(Phi, z, rcond=None)[0]  # any linearisation point (the Newton step is exact)
    grads = {}
    for objective in ("evidence", "lecture"):
        l = ard_objective(_lin(Phi, z, w), theta[:-1], theta[-1:], objective=objective)
        (grads[objective],) = torch.autograd.grad(l, theta)
    # d l_ev / d ln α_k = ½(α_k(w_k² + [H⁻¹]_kk) − 1): terms of order 1 that cancel at the fixed point
    assert float(grads["evidence"].abs().max()) < 1e-6, grads["evidence"]
    assert float(grads["lecture"].abs().max()) > 0.05, grads["lecture"]


def test_gradient_evidence_and_mackay_reestimation_reach_the_same_alphas():
    Phi, z = _linear_problem(seed=5, N=50, D=4, coef=(1.0, -0.5, 0.2, 0.3))
    x, y = torch.from_numpy(Phi), torch.from_numpy(z[:, None])
    a, b, c, d = 1.5, 0.2, 2.0, 0.05
    grad = gradient_ard(torch.nn.Linear(4, 1, dtype=torch.float64), x, y, objective="evidence",
                        alpha=1.0, outer=3, steps=200, a=a, b=b, c=c, d=d)
    mackay = evidence_ard(torch.nn.Linear(4, 1, dtype=torch.float64), x, y, alpha=1.0, beta=1.0,
                          outer=120, inner=50, a=a - 1, b=b, c=c - 1, d=d)
    np.testing.assert_allclose(grad.alpha.numpy(), mackay.alpha.numpy(), rtol=1e-4)
    np.testing.assert_allclose(grad.beta.numpy(), mackay.beta.numpy(), rtol=1e-4)
    np.testing.assert_allclose(grad.gamma.numpy(), mackay.gamma.numpy(), rtol=1e-4, atol=1e-6)


def test_user_errors(monkeypatch):
    x, y = torch.zeros(6, 2, dtype=torch.float64), torch.zeros(6, 1, dtype=torch.float64)
    with pytest.raises(ConfigError, match="regression"):
        gradient_ard(MLP([2, 3, 2], output="softmax", seed=0, dtype=torch.float64), x, torch.zeros(6).long())
    with pytest.raises(ConfigError, match="objective 'marginal'"):
        gradient_ard(torch.nn.Linear(2, 1, dtype=torch.float64), x, y, objective="marginal")
    with pytest.raises(DataError, match=r"\(N, C\)"):
        gradient_ard(torch.nn.Linear(2, 1, dtype=torch.float64), x, y[:, 0])
    mod = sys.modules["deepnets.bayes.ard_objective"]  # the package's name ard_objective is the function
    monkeypatch.setattr(mod, "MAX_JACOBIAN", 10)
    with pytest.raises(ConfigError, match="18 numbers"):
        gradient_ard(torch.nn.Linear(2, 1, dtype=torch.float64), x, y)


def test_one_round_moves_ln_alpha_and_ln_beta_at_most_delta():
    """The linearised network is trusted near w₀ only: θ = θ₀ + δ tanh(u) (a free first step from a
    small α fell into the all-noise basin on a 3-5-1 tanh net)."""
    Phi, z = _linear_problem(seed=6, N=30, D=3)
    x, y = torch.from_numpy(Phi), torch.from_numpy(z[:, None])
    res = gradient_ard(torch.nn.Linear(3, 1, bias=False, dtype=torch.float64), x, y, objective="evidence",
                       alpha=1e-3, beta=1.0, outer=1, delta=0.5, train=False)
    moved = torch.cat([res.alpha.log() - np.log(1e-3), res.beta.log()]).abs()
    assert float(moved.max()) <= 0.5 + 1e-12 and float(moved.max()) > 0.45, moved  # it wanted to go further


def test_the_lecture_objective_has_no_occam_factor():
    """The README's figures: z = Φ (1, −0.5, 0, 0) + 0.3ε, N = 40, α of the irrelevant inputs 500
    and 100, β = 14. Taking the relevant inputs' α from 1e-10 to 1 changes the slide's l by 0.001
    (it neither shrinks nor prunes them: a gradient ends anywhere in that range) and the log
    evidence by 22.5 (½ ln α per weight: the Occam factor)."""
    rng = np.random.default_rng(0)
    Phi = rng.normal(size=(40, 4))
    z = Phi @ np.array([1.0, -0.5, 0.0, 0.0]) + 0.3 * rng.normal(size=40)
    lin, log_beta = _lin(Phi, z, np.zeros(4)), torch.tensor([np.log(14.0)], dtype=torch.float64)

    def l(a, objective):
        return float(ard_objective(lin, torch.tensor([a, a, 500.0, 100.0], dtype=torch.float64).log(), log_beta,
                                   objective=objective))

    assert abs(l(1.0, "lecture") - l(1e-10, "lecture")) < 2e-3
    np.testing.assert_allclose(l(1e-10, "evidence") - l(1.0, "evidence"), 22.46, atol=0.01)
