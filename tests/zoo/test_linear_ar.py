"""The least-squares AR(p) / ARX baseline against known coefficients, NumPy's lstsq and Yule-Walker."""

import numpy as np
import pytest
import torch
from scipy.linalg import solve_toeplitz

from deepnets.data.series import delay_taps
from deepnets.errors import DataError
from deepnets.zoo.linear_ar import LinearAR, least_squares_ar


def _ar2(T, phi=(0.6, -0.3), c=0.5, sigma=0.1, seed=0, u=None, beta=0.0):
    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, sigma, T)
    y = np.zeros(T)
    for t in range(2, T):
        y[t] = c + phi[0] * y[t - 1] + phi[1] * y[t - 2] + e[t] + (beta * u[t - 1] if u is not None else 0.0)
    return y


def test_recovers_known_ar2_coefficients_from_a_long_series():
    y = _ar2(50_000)
    x, t = delay_taps(torch.from_numpy(y), 2)
    w, c = least_squares_ar(x, t)
    # the standard error of each coefficient is about sigma/(sd(y) sqrt(T)) ~ 0.004
    np.testing.assert_allclose(w.numpy(), [0.6, -0.3], atol=0.015)
    assert abs(float(c) - 0.5) < 0.02


def test_equals_numpy_lstsq_on_the_same_design_matrix():
    y = _ar2(2000, seed=1)
    x, t = delay_taps(torch.from_numpy(y), 4)
    w, c = least_squares_ar(x, t)
    A = np.hstack([x.numpy(), np.ones((x.shape[0], 1))])
    theta, *_ = np.linalg.lstsq(A, t.numpy()[:, 0], rcond=None)
    np.testing.assert_allclose(np.append(w.numpy(), float(c)), theta, rtol=0, atol=1e-10)
    model = LinearAR.fit(x, t)
    np.testing.assert_allclose(model(x)[:, 0].numpy(), A @ theta, rtol=0, atol=1e-10)


def test_agrees_with_the_yule_walker_closed_form():
    y = _ar2(100_000, phi=(0.5, 0.2), c=0.0, sigma=1.0, seed=2)
    x, t = delay_taps(torch.from_numpy(y), 2)
    w, _ = least_squares_ar(x, t)
    d = y - y.mean()
    r = np.array([d[:len(d) - k] @ d[k:] for k in range(3)]) / len(d)   # autocovariances r0, r1, r2
    yw = solve_toeplitz(r[:2], r[1:])                                  # R phi = r: the Yule-Walker equations
    r1, r2 = r[1] / r[0], r[2] / r[0]
    closed = [r1 * (1 - r2) / (1 - r1 ** 2), (r2 - r1 ** 2) / (1 - r1 ** 2)]  # AR(2) in closed form
    np.testing.assert_allclose(yw, closed, rtol=1e-12)
    np.testing.assert_allclose(w.numpy(), yw, atol=2e-3)                # both consistent: they meet
    np.testing.assert_allclose(w.numpy(), [0.5, 0.2], atol=0.01)


def test_arx_recovers_the_input_coefficient():
    u = np.random.default_rng(5).uniform(-1, 1, 20_000)
    y = _ar2(20_000, seed=3, u=u, beta=2.0)
    x, t = delay_taps(torch.from_numpy(y), 2, torch.from_numpy(u), 1)
    w, c = least_squares_ar(x, t)
    np.testing.assert_allclose(w.numpy(), [0.6, -0.3, 2.0], atol=0.01)


def test_shape_errors():
    with pytest.raises(DataError, match="rows x"):
        least_squares_ar(torch.zeros(5, 2), torch.zeros(4))
