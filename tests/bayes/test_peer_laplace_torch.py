"""Side by side with laplace-torch (optional: skipped when it is not installed).

Same model, data, α and β: the functional variance G H⁻¹ Gᵀ (regression) and the probit /
mean-field probabilities (classification) agree to rounding for the full, diagonal and
last-layer approximations. (Kronecker factors differ between the two: not compared here.)
"""

import pytest
import torch
from torch import nn

laplace = pytest.importorskip("laplace")
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from deepnets.bayes import Laplace  # noqa: E402

PAIRS = [("full", "all", "full"), ("diag", "all", "diagonal"), ("full", "last_layer", "last_layer")]


@pytest.fixture(autouse=True)
def _f64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("structure, subset, ours", PAIRS)
def test_regression_functional_variance(structure, subset, ours):
    g = torch.Generator().manual_seed(0)
    X, Xs = torch.randn(80, 3, generator=g), torch.randn(9, 3, generator=g)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    Y = torch.randn(80, 2, generator=g)
    beta, alpha = 4.0, 0.5
    peer = laplace.Laplace(net, "regression", subset_of_weights=subset, hessian_structure=structure,
                           sigma_noise=beta ** -0.5, prior_precision=alpha)
    peer.fit(DataLoader(TensorDataset(X, Y), batch_size=40))
    mu_p, var_p = peer(Xs, pred_type="glm")
    mu, S = Laplace(net, approx=ours, alpha=alpha, beta=beta).fit(X).functional_covariance(Xs)
    torch.testing.assert_close(S, var_p, rtol=1e-8, atol=1e-12)
    torch.testing.assert_close(mu, mu_p.detach())


@pytest.mark.parametrize("structure, subset, ours", PAIRS)
def test_classification_probit(structure, subset, ours):
    g = torch.Generator().manual_seed(1)
    X, Xs = torch.randn(90, 3, generator=g), torch.randn(9, 3, generator=g)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 3))
    peer = laplace.Laplace(net, "classification", subset_of_weights=subset, hessian_structure=structure,
                           prior_precision=0.5)
    peer.fit(DataLoader(TensorDataset(X, y), batch_size=45))
    p_peer = peer(Xs, pred_type="glm", link_approx="probit")
    p = Laplace(net, "multiclass", approx=ours, alpha=0.5).fit(X).predict_proba(Xs)
    torch.testing.assert_close(p, p_peer, rtol=1e-8, atol=1e-12)
