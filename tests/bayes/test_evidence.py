import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from deepnets import MLP
from deepnets.bayes.evidence import ard_groups, evidence_ard, reestimate
from deepnets.errors import ConfigError, DataError
from twins import mlp_and_twin


def test_single_group_gamma_is_sum_of_eigenvalue_ratios():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(15, 6, generator=g, dtype=torch.float64)
    HD = X.T @ X
    alpha = 0.8
    A_inv = torch.linalg.inv(HD + alpha * torch.eye(6, dtype=torch.float64))
    w = torch.randn(6, generator=g, dtype=torch.float64)
    new, gamma = reestimate(torch.diagonal(A_inv), w, [torch.arange(6)], torch.tensor([alpha], dtype=torch.float64))
    lam = np.linalg.eigvalsh(HD.numpy())
    want = (lam / (lam + alpha)).sum()
    np.testing.assert_allclose(float(gamma[0]), want, rtol=1e-10)
    np.testing.assert_allclose(float(new[0]), want / float(w @ w), rtol=1e-10)


def test_groups_of_an_mlp():
    layout, names, index = ard_groups(MLP([3, 4, 2], seed=0))
    assert names == ["input 0", "input 1", "input 2", "bias 1", "layer 2"]
    assert [len(i) for i in index] == [4, 4, 4, 4, 10]
    assert sorted(torch.cat(index).tolist()) == list(range(layout.numel))
    assert index[1].tolist() == [1, 4, 7, 10]  # W(1)[:, 1] in row-major order


def _neg_log_evidence(theta, Phi, y, a, b, c, d):
    """−[ln p(y | α, β) + Σ (a ln α − bα) + (c ln β − dβ)] for Bayesian linear regression with one α
    per column of Φ (independent closed form)."""
    alpha, beta = np.exp(theta[:-1]), np.exp(theta[-1])
    N = len(y)
    A = beta * Phi.T @ Phi + np.diag(alpha)
    m = beta * np.linalg.solve(A, Phi.T @ y)
    ED, EW = 0.5 * np.sum((y - Phi @ m) ** 2), 0.5 * m ** 2
    ev = (0.5 * np.sum(np.log(alpha)) + 0.5 * N * np.log(beta) - beta * ED - np.sum(alpha * EW)
          - 0.5 * np.linalg.slogdet(A)[1] - 0.5 * N * np.log(2 * np.pi))
    return -(ev + np.sum(a * np.log(alpha) - b * alpha) + c * np.log(beta) - d * beta)


@pytest.mark.parametrize("hyper", [(0.0, 0.0, 0.0, 0.0), (2.0, 0.5, 3.0, 0.2)])
def test_fixed_point_maximises_the_closed_form_evidence(hyper):
    a, b, c, d = hyper
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.7 + 0.3 * rng.normal(size=50)
    net = torch.nn.Linear(3, 1, dtype=torch.float64)
    res = evidence_ard(net, torch.from_numpy(x), torch.from_numpy(y[:, None]), alpha=1.0, beta=1.0,
                       outer=300, inner=50, a=a, b=b, c=c, d=d)
    Phi = np.concatenate([x, np.ones((50, 1))], 1)
    opt = minimize(_neg_log_evidence, np.zeros(5), args=(Phi, y, a, b, c, d), method="BFGS",
                   options={"gtol": 1e-10})
    np.testing.assert_allclose(np.log(res.alpha.numpy()), opt.x[:-1], atol=1e-3)
    np.testing.assert_allclose(np.log(res.beta.numpy()), opt.x[-1:], atol=1e-3)


def test_ard_finds_the_three_relevant_inputs():
    g = torch.Generator().manual_seed(0)
    N = 200
    x = torch.randn(N, 10, generator=g, dtype=torch.float64)
    y = (torch.sin(1.5 * x[:, 0]) + 0.8 * x[:, 1] * x[:, 2] + 0.5 * x[:, 1]
         + 0.1 * torch.randn(N, generator=g, dtype=torch.float64))[:, None]
    net = MLP([10, 8, 1], activation="tanh", seed=0, dtype=torch.float64)
    res = evidence_ard(net, x, y, alpha=0.1, outer=15, inner=100)
    alpha_in = res.alpha[:10]
    assert float(alpha_in[3:].min()) >= 10 * float(alpha_in[:3].max()), alpha_in
    rel = res.input_relevance()
    assert set(rel.argsort(descending=True)[:3].tolist()) == {0, 1, 2}
    assert 50 < float(res.beta[0]) < 200  # the noise precision 1/0.1² = 100, roughly


def test_classification_ard_runs_without_beta():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(120, 4, generator=g, dtype=torch.float64)
    y = (x[:, 0] - x[:, 1] > 0).long()
    net = MLP([4, 3, 2], output="softmax", seed=0, dtype=torch.float64)
    res = evidence_ard(net, x, y, outer=6, inner=50)
    assert res.beta is None
    assert float(res.alpha[2:4].min()) > float(res.alpha[:2].max())


def test_user_errors():
    net = MLP([2, 3, 1], seed=0)
    with pytest.raises(DataError, match="targets"):
        evidence_ard(net, torch.zeros(5, 2), torch.zeros(5), outer=1)
    with pytest.raises(ConfigError, match="likelihood"):
        evidence_ard(net, torch.zeros(5, 2), torch.zeros(5, 1), likelihood="poisson")


def test_a_constant_input_gets_the_largest_alpha():
    """Its weights get no data curvature (γ = 0): the evidence is flat in α, the input is irrelevant."""
    from deepnets.bayes.evidence import ALPHA_RANGE

    g = torch.Generator().manual_seed(2)
    x = torch.randn(60, 3, generator=g, dtype=torch.float64)
    x[:, 2] = 0.0
    y = (x[:, 0] - 0.5 * x[:, 1])[:, None] + 0.1 * torch.randn(60, 1, generator=g, dtype=torch.float64)
    res = evidence_ard(torch.nn.Linear(3, 1, dtype=torch.float64), x, y, alpha=1.0, outer=5, inner=50)
    assert float(res.alpha[2]) == ALPHA_RANGE[1]
    assert float(res.alpha[:2].max()) < 10


@pytest.mark.parametrize("n_out", [3, 1])
def test_cross_entropy_evidence_of_an_mlp_equals_its_sequential_twins(n_out):
    """The likelihood inferred from the MLP's softmax / logistic output is fit's "cross_entropy" on
    its logits: the α, γ of the twin that outputs logits are the same (weights held, train=False)."""
    net, seq = mlp_and_twin(3, 4, n_out, seed=1)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(50, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, max(n_out, 2), (50,), generator=g)
    a = evidence_ard(net, x, y, alpha=0.5, outer=3, train=False)
    b = evidence_ard(seq, x, y, likelihood="cross_entropy", alpha=0.5, outer=3, train=False)
    assert a.names == b.names
    torch.testing.assert_close(a.alpha, b.alpha, rtol=1e-10, atol=0)
    torch.testing.assert_close(a.gamma, b.gamma, rtol=1e-10, atol=1e-12)
