import numpy as np
import pytest
import torch

from deepnets import MLP
from deepnets.bayes import Laplace
from deepnets.errors import ConfigError
from twins import mlp_and_twin


@pytest.fixture(autouse=True)
def _f64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _blr(Phi, Phi_star, alpha, beta):
    """Bayesian linear regression in NumPy: A = β ΦᵀΦ + αI, var = 1/β + φ*ᵀ A⁻¹ φ*."""
    A = beta * Phi.T @ Phi + alpha * np.eye(Phi.shape[1])
    return 1.0 / beta + np.einsum("np,pq,nq->n", Phi_star, np.linalg.inv(A), Phi_star)


def _aug(x):
    return np.concatenate([x, np.ones((len(x), 1))], 1)


@pytest.mark.parametrize("approx", ["full", "kron", "last_layer"])
def test_linear_net_matches_bayesian_linear_regression(approx):
    g = torch.Generator().manual_seed(0)
    x, xs = torch.randn(30, 3, generator=g), torch.randn(7, 3, generator=g)
    net = torch.nn.Linear(3, 1)
    alpha, beta = 0.7, 3.0
    mean, cov = Laplace(net, approx=approx, alpha=alpha, beta=beta).fit(x).predict(xs)
    want = _blr(_aug(x.numpy()), _aug(xs.numpy()), alpha, beta)
    np.testing.assert_allclose(cov[:, 0, 0].numpy(), want, rtol=1e-9)
    np.testing.assert_allclose(mean.detach().numpy(), net(xs).detach().numpy())


def test_diagonal_keeps_diag_of_precision():
    g = torch.Generator().manual_seed(1)
    x, xs = torch.randn(25, 2, generator=g), torch.randn(4, 2, generator=g)
    la = Laplace(torch.nn.Linear(2, 1), approx="diagonal", alpha=0.5, beta=2.0).fit(x)
    Phi, Ps = _aug(x.numpy()), _aug(xs.numpy())
    d = 2.0 * (Phi ** 2).sum(0) + 0.5
    np.testing.assert_allclose(la.predict(xs)[1][:, 0, 0].numpy(), 0.5 + (Ps ** 2 / d).sum(1), rtol=1e-9)


def test_last_layer_is_blr_on_fixed_features():
    g = torch.Generator().manual_seed(2)
    net = MLP([2, 5, 1], activation="tanh", seed=0, dtype=torch.float64)
    x, xs = torch.randn(40, 2, generator=g), torch.randn(6, 2, generator=g)
    feats = lambda t: torch.tanh(net.layers[0](t)).detach().numpy()
    _, cov = Laplace(net, approx="last_layer", alpha=0.3, beta=5.0).fit(x).predict(xs)
    np.testing.assert_allclose(cov[:, 0, 0].numpy(), _blr(_aug(feats(x)), _aug(feats(xs)), 0.3, 5.0), rtol=1e-9)


def test_kron_exact_for_multi_output_linear_lms():
    g = torch.Generator().manual_seed(3)
    net = torch.nn.Linear(3, 2)
    x, xs = torch.randn(20, 3, generator=g), torch.randn(5, 3, generator=g)
    full = Laplace(net, approx="full", alpha=0.4, beta=2.0).fit(x).predict(xs)[1]
    kron = Laplace(net, approx="kron", alpha=0.4, beta=2.0).fit(x).predict(xs)[1]
    torch.testing.assert_close(kron, full)


def test_kron_eigen_route_equals_dense_kronecker_inverse():
    """The eigenbasis solve against (G ⊗ A + αI)⁻¹ built densely with torch.kron."""
    g = torch.Generator().manual_seed(4)
    net = MLP([3, 4, 2], activation="tanh", output="softmax", seed=1, dtype=torch.float64)
    x, xs = torch.randn(30, 3, generator=g), torch.randn(5, 3, generator=g)
    la = Laplace(net, approx="kron", alpha=0.2).fit(x)
    post = la.posterior
    # independent: rebuild G, A per layer from the definitions and invert the dense Kronecker sum
    from deepnets.curvature import per_sample_jacobian
    f = la.f
    zs = [x, torch.tanh(net.layers[0](x))]
    Jb, bl = per_sample_jacobian(f, x, names=[n for n in post.layout.names if n.endswith("bias")])
    p = torch.softmax(f(x), -1).detach()
    Lam = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # (N, C, C)
    blocks = []
    for l, name in enumerate(["layers.0.bias", "layers.1.bias"]):
        B = Jb[..., bl.slice(name)]  # (N, C, out)
        G = torch.einsum("nco,ncd,ndq->oq", B, Lam, B) / len(x)
        a = torch.cat([zs[l], torch.ones(len(x), 1)], 1)
        blocks.append(torch.linalg.inv(torch.kron(G, a.T @ a) + 0.2 * torch.eye(G.shape[0] * a.shape[1])))
    S = post.weight_covariance()
    idx0 = torch.cat([torch.arange(12).reshape(4, 3), torch.arange(12, 16).reshape(4, 1)], 1).reshape(-1)
    torch.testing.assert_close(S[idx0][:, idx0], blocks[0])
    J, _ = per_sample_jacobian(f, xs, names=post.layout.names)
    torch.testing.assert_close(la.functional_covariance(xs)[1], torch.einsum("ncp,pq,ndq->ncd", J, S, J))


@pytest.mark.parametrize("approx", ["full", "diagonal", "kron"])
def test_samples_have_the_posterior_covariance(approx):
    g = torch.Generator().manual_seed(5)
    net = MLP([2, 3, 1], activation="tanh", seed=2, dtype=torch.float64)
    x = torch.randn(30, 2, generator=g)
    la = Laplace(net, approx=approx, alpha=1.0, beta=2.0).fit(x)
    xs = torch.randn(4, 2, generator=g)
    a = la.sample_outputs(xs, 40000, generator=torch.Generator().manual_seed(0))  # (n, N, 1)
    emp = torch.cov(a[..., 0].T)  # (N, N) over the 4 points
    want = la.functional_covariance(xs)[1][:, 0, 0]
    torch.testing.assert_close(torch.diagonal(emp), want, rtol=0.05, atol=0)


def test_binary_probit_agrees_with_monte_carlo():
    g = torch.Generator().manual_seed(6)
    net = MLP([2, 6, 1], activation="tanh", output="logistic", seed=3, dtype=torch.float64)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3)
    x = torch.randn(40, 2, generator=g)
    la = Laplace(net, alpha=0.05).fit(x)
    xs = torch.randn(50, 2, generator=g) * 2
    mu, S = la.functional_covariance(xs)
    assert float(S.max()) > 1.0  # the moderation matters at these points
    mc = la.predict_proba(xs, "mc", n_samples=20000, generator=torch.Generator().manual_seed(1))
    pr = la.predict_proba(xs)
    assert float((pr - mc).abs().max()) < 0.02  # the probit approximation's known error is ~0.01
    # and the moderation moves p towards 1/2 relative to the MAP output
    assert bool(((pr[:, 1] - 0.5).abs() <= (torch.sigmoid(mu[:, 0]) - 0.5).abs() + 1e-12).all())


def test_softmax_mean_field_agrees_with_monte_carlo():
    g = torch.Generator().manual_seed(7)
    net = MLP([2, 6, 3], activation="tanh", output="softmax", seed=4, dtype=torch.float64)
    x = torch.randn(60, 2, generator=g)
    la = Laplace(net, alpha=0.5).fit(x)
    xs = torch.randn(50, 2, generator=g)
    mc = la.predict_proba(xs, "mc", n_samples=20000, generator=torch.Generator().manual_seed(2))
    mf = la.predict_proba(xs)
    torch.testing.assert_close(mf.sum(1), torch.ones(50))
    assert float((mf - mc).abs().max()) < 0.05


def test_user_errors():
    net = torch.nn.Linear(2, 1)
    with pytest.raises(ConfigError, match="approx"):
        Laplace(net, approx="bogus")
    with pytest.raises(ConfigError, match="fit"):
        Laplace(net).predict(torch.zeros(1, 2))
    with pytest.raises(ConfigError, match="alpha > 0"):
        Laplace(net, alpha=0.0).fit(torch.zeros(3, 2))
    with pytest.raises(ConfigError, match="predict_proba"):
        Laplace(MLP([2, 1], output="logistic")).fit(torch.zeros(3, 2)).predict(torch.zeros(1, 2))


def _gap_problem(seed=0, n=40):
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, 1, generator=g) * 2.5
    x = torch.where(torch.rand(n, 1, generator=g) < 0.5, -0.5 - u, 1.5 + u)  # [-3, -0.5] ∪ [1.5, 4]
    y = torch.sin(1.5 * x) + 0.1 * torch.randn(n, 1, generator=g)
    return x, y


@pytest.mark.parametrize("approx", ["full", "kron", "last_layer"])
def test_regression_band_widens_in_the_gap_and_beyond_the_data(approx):
    from deepnets.bayes import evidence_ard

    x, y = _gap_problem()
    net = MLP([1, 12, 1], activation="tanh", seed=0, dtype=torch.float64)
    ev = evidence_ard(net, x, y, alpha=0.1, outer=6, inner=100)
    alpha = ev.weight_alpha if approx != "kron" else float(ev.weight_alpha.mean())
    la = Laplace(net, approx=approx, alpha=alpha, beta=ev.beta).fit(x)
    _, cov_data = la.functional_covariance(x)
    _, cov = la.functional_covariance(torch.tensor([[0.5], [-6.0], [7.0]]))
    s_data = cov_data[:, 0, 0].sqrt().mean()
    s = cov[:, 0, 0].sqrt()  # the model part of the band, without the noise 1/β
    assert float(s[0]) > 2 * float(s_data), (s, s_data)
    assert float(s[1:].min()) > 2 * float(s_data), (s, s_data)


@pytest.mark.parametrize("n_out", [3, 1])
@pytest.mark.parametrize("approx", ["full", "diagonal", "kron", "last_layer"])
def test_an_mlp_and_its_sequential_twin_have_the_same_predictive(n_out, approx):
    """The likelihood inferred from the MLP's softmax / logistic output is "cross_entropy", the
    name fit takes, on its logits; the twin that outputs logits, told "cross_entropy", gives the
    same probabilities and output variances."""
    net, seq = mlp_and_twin(3, 5, n_out, seed=2, dtype=None)
    g = torch.Generator().manual_seed(8)
    x, xs = torch.randn(40, 3, generator=g), torch.randn(7, 3, generator=g)
    la_net = Laplace(net, approx=approx, alpha=0.3).fit(x)
    la_seq = Laplace(seq, "cross_entropy", approx=approx, alpha=0.3).fit(x)
    assert la_net.likelihood == la_seq.likelihood == "cross_entropy"
    (mu_n, S_n), (mu_s, S_s) = la_net.functional_covariance(xs), la_seq.functional_covariance(xs)
    torch.testing.assert_close(mu_n, mu_s, rtol=0, atol=1e-12)
    torch.testing.assert_close(S_n, S_s, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(la_net.predict_proba(xs), la_seq.predict_proba(xs), rtol=0, atol=1e-10)
    # old names are aliases of the same likelihood
    old = Laplace(seq, "multiclass" if n_out > 1 else "binary", approx=approx, alpha=0.3).fit(x)
    torch.testing.assert_close(old.predict_proba(xs), la_seq.predict_proba(xs), rtol=0, atol=1e-12)


def test_a_likelihood_the_model_cannot_give_is_asked_about():
    soft = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Softmax(dim=1))
    with pytest.raises(ConfigError, match="no likelihood follows from a Sequential that ends in Softmax"):
        Laplace(soft)
    with pytest.raises(ConfigError, match="ends in Softmax: its outputs are probabilities"):
        Laplace(soft, "cross_entropy")
    with pytest.raises(ConfigError, match="no likelihood follows from a Tanh"):
        Laplace(MLP([2, 3, 2], output="tanh"))
    with pytest.raises(ConfigError, match="'binary' is 'cross_entropy' on one output, got 3"):
        Laplace(torch.nn.Linear(2, 3), "binary", alpha=1.0).fit(torch.randn(5, 2))
    with pytest.raises(ConfigError, match="'lp' has no likelihood curvature"):
        Laplace(torch.nn.Linear(2, 3), "lp")
