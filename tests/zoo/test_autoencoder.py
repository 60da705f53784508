"""Autoencoders against independent answers: a linear one spans PCA's principal subspace (numpy SVD,
scikit-learn's PCA); stacked forward passes by hand; the corruption's statistics and its use in
training only."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from deepnets import fit
from deepnets.errors import ConfigError
from deepnets.zoo import Autoencoder, StackedAutoencoder, corrupt

LBFGS = dict(optimizer="lbfgs", lr=1.0, batch_size=None, shuffle=False,
             optimizer_options=dict(max_iter=100, tolerance_grad=1e-12, tolerance_change=1e-16,
                                    line_search_fn="strong_wolfe"))


def _data(n=300, p=6, seed=0):
    """Gaussian data with distinct variances along a random rotation, mean one."""
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(p, p, generator=g, dtype=torch.float64))
    scales = torch.tensor([3.0, 2.0, 1.0, 0.5, 0.3, 0.2], dtype=torch.float64)[:p]
    return torch.randn(n, p, generator=g, dtype=torch.float64) * scales @ Q.T + 1.0


def _projector(A):
    """The orthogonal projector onto the row space of A (r, p)."""
    return A.T @ torch.linalg.solve(A @ A.T, A)


@pytest.mark.parametrize("tied", [True, False])
def test_linear_autoencoder_spans_the_principal_subspace(tied):
    x, r = _data(), 2
    ae = Autoencoder(6, r, "identity", "identity", tied=tied, seed=0, dtype=torch.float64)
    fit(ae, (x, x), loss="lms", epochs=6, **LBFGS)
    xc = (x - x.mean(0)).numpy()
    _, _, Vt = np.linalg.svd(xc, full_matrices=False)
    P_svd = torch.from_numpy(Vt[:r].T @ Vt[:r])
    # the decoder's columns span the reconstructions; tied, they are the encoder's rows
    V = ae.encoders[0].weight if tied else ae.decoders[0].weight.T
    torch.testing.assert_close(_projector(V.detach()), P_svd, atol=1e-5, rtol=0)
    pca = PCA(n_components=r).fit(x.numpy())
    x_pca = pca.inverse_transform(pca.transform(x.numpy()))
    ae.eval()
    with torch.no_grad():
        err_ae = float(((ae(x) - x) ** 2).sum(1).mean())
    err_pca = float(((x_pca - x.numpy()) ** 2).sum(1).mean())
    assert err_ae == pytest.approx(err_pca, rel=1e-6)


def test_tied_linear_minimum_is_an_orthogonal_projection():
    """Tied, x̂ − v_0 = WᵀW x + Wᵀw_0: at the minimum W Wᵀ = I (W's rows orthonormal)."""
    x = _data(seed=1)
    ae = Autoencoder(6, 3, "identity", "identity", seed=1, dtype=torch.float64)
    fit(ae, (x, x), loss="lms", epochs=6, **LBFGS)
    W = ae.encoders[0].weight.detach()
    torch.testing.assert_close(W @ W.T, torch.eye(3, dtype=torch.float64), atol=1e-5, rtol=0)


def test_stacked_forward_is_the_formula_written_out():
    ae = StackedAutoencoder([5, 4, 2], activation="tanh", output="logistic", seed=0, dtype=torch.float64)
    x = torch.rand(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    (W1, b1, c1), (W2, b2, c2) = [(e.weight, e.bias, e.decoder_bias) for e in ae.encoders]
    h1 = torch.tanh(x @ W1.T + b1)
    h2 = torch.tanh(h1 @ W2.T + b2)
    back1 = torch.tanh(h2 @ W2 + c2)
    x_hat = torch.sigmoid(back1 @ W1 + c1)
    torch.testing.assert_close(ae.encode(x), h2)
    torch.testing.assert_close(ae(x), x_hat)
    untied = StackedAutoencoder([5, 4, 2], tied=False, seed=0)
    n_tied = sum(p.numel() for p in StackedAutoencoder([5, 4, 2], seed=0).parameters())
    assert n_tied == 5 * 4 + 4 + 5 + 4 * 2 + 2 + 4
    assert sum(p.numel() for p in untied.parameters()) == n_tied + 5 * 4 + 4 * 2


def test_masking_noise_zeroes_the_given_share_and_gaussian_has_the_given_sd():
    torch.manual_seed(0)
    x = torch.ones(400, 500)
    assert float((corrupt(x, "mask", 0.3) == 0).float().mean()) == pytest.approx(0.3, abs=0.005)
    assert float((corrupt(x, "gaussian", 0.2) - x).std()) == pytest.approx(0.2, rel=0.01)
    assert corrupt(x, "none", 0.5) is x


def test_corruption_only_in_training():
    ae = StackedAutoencoder([8, 3], noise="mask", noise_level=0.5, seed=0)
    x = torch.rand(20, 8)
    ae.train()
    torch.manual_seed(0)
    a = ae(x)
    torch.manual_seed(1)
    assert not torch.allclose(a, ae(x))
    torch.manual_seed(0)
    x_tilde = corrupt(x, "mask", 0.5)
    torch.testing.assert_close(a, ae.decode(ae.encode(x_tilde)))  # the same draws: the encoder read x̃
    ae.eval()
    torch.testing.assert_close(ae(x), ae.decode(ae.encode(x)))


def test_denoising_training_is_reproducible_from_fit_seed():
    x = torch.rand(64, 8, generator=torch.Generator().manual_seed(0))
    runs = []
    for _ in range(2):
        ae = Autoencoder(8, 3, noise="gaussian", noise_level=0.1, seed=0)
        runs.append(fit(ae, (x, x), loss="lms", epochs=2, seed=5).history["loss"])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("kwargs, match", [
    (dict(sizes=[8]), "sizes"),
    (dict(sizes=[8, 0]), "sizes"),
    (dict(sizes=[8, 3], noise="salt"), "noise"),
    (dict(sizes=[8, 3], noise="mask", noise_level=1.5), "noise_level"),
    (dict(sizes=[8, 3], activation="sigmod"), "sigmoid"),
])
def test_bad_arguments_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        StackedAutoencoder(**kwargs)


def test_wrong_input_width_names_the_expected_shape():
    with pytest.raises(ConfigError, match=r"\(N, 8\), got \(2, 7\)"):
        Autoencoder(8, 3)(torch.zeros(2, 7))
