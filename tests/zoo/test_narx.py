"""NARX forecasts: iterated forecasts of a linear system against its closed form, no peeking at
the future, one-step forecasts equal the model on delay-tap rows, and the NARX MLP beating AR."""

import numpy as np
import pytest
import torch

from deepnets.data.series import delay_taps, henon_series, series_dataset, split_by_time
from deepnets.errors import ConfigError
from deepnets.train.loop import fit
from deepnets.train.metrics import nmse
from deepnets.zoo.linear_ar import LinearAR
from deepnets.zoo.narx import NARX, iterated_forecast, one_step_forecast


def _linear(weights, bias):
    m = LinearAR(len(weights))
    with torch.no_grad():
        m.weight.copy_(torch.tensor([weights], dtype=torch.float64))
        m.bias.fill_(bias)
    return m


def test_iterated_ar_forecast_equals_companion_matrix_powers():
    a, c = [0.5, -0.2, 0.1], 0.3
    p, h = 3, 8
    y = torch.randn(40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    origins = [3, 10, 25, 40]                      # 40 = T: forecasts past the end of the data
    pred = iterated_forecast(_linear(a, c), y, lags=p, origins=origins, horizon=h)
    # state s = (y_{t-1}, ..., y_{t-p}); s_{t+1} = A s_t + c e1 with A the companion matrix, so
    # s_{t0+k} = A^k s_{t0} + sum_{j<k} A^j c e1 and the forecast of y_{t0+k-1} is s_{t0+k}[0]
    A = np.zeros((p, p))
    A[0] = a
    A[1:, :-1] = np.eye(p - 1)
    e1 = np.eye(p)[0]
    for i, t0 in enumerate(origins):
        s0 = y.numpy()[t0 - 1::-1][:p]
        for k in range(1, h + 1):
            drift = sum(np.linalg.matrix_power(A, j) @ (c * e1) for j in range(k))
            expected = (np.linalg.matrix_power(A, k) @ s0 + drift)[0]
            assert abs(float(pred[i, k - 1]) - expected) < 1e-12


def test_iterated_arx_forecast_equals_a_scalar_recursion():
    p, q = 2, 3
    w = [0.4, 0.3, 1.0, -0.5, 0.25]                  # a1, a2, b1, b2, b3
    g = torch.Generator().manual_seed(1)
    y = torch.randn(30, generator=g, dtype=torch.float64)
    u = torch.randn(30, generator=g, dtype=torch.float64)
    pred = iterated_forecast(_linear(w, -0.1), y, u, lags=p, input_lags=q, origins=[5, 12], horizon=6)
    for i, t0 in enumerate([5, 12]):
        hist = list(y[:t0].tolist())                 # observed past, then our own forecasts appended
        for s in range(6):
            t = t0 + s
            val = -0.1 + w[0] * hist[t - 1] + w[1] * hist[t - 2] + sum(w[2 + k] * float(u[t - 1 - k]) for k in range(q))
            hist.append(val)
            assert abs(float(pred[i, s]) - val) < 1e-12


def test_one_step_forecasts_equal_the_model_on_delay_tap_rows_and_ignore_the_future():
    net = NARX(4, 2, hidden=(6,), seed=0, dtype=torch.float64)
    g = torch.Generator().manual_seed(2)
    y, u = torch.randn(50, generator=g, dtype=torch.float64), torch.randn(50, generator=g, dtype=torch.float64)
    x, _ = delay_taps(y, 4, u, 2)
    times = torch.arange(4, 50)
    with torch.no_grad():
        torch.testing.assert_close(one_step_forecast(net, y, u, lags=4, input_lags=2, times=times), net(x)[:, 0])
    # an iterated forecast from origin t0 never reads y at t0 or later
    full = net.forecast(y, u, origins=[20, 30], horizon=5)
    y2 = y.clone()
    y2[20:] = 99.0
    assert torch.equal(net.forecast(y2, u, origins=[20], horizon=5), full[:1])
    assert torch.equal(net.forecast(y, u, origins=[20, 30], horizon=1)[:, 0], full[:, 0])


def test_forecast_errors():
    net = NARX(3, seed=0)
    y = torch.zeros(10)
    with pytest.raises(ConfigError, match=r"origins must lie in \[3, 10\]"):
        net.forecast(y, origins=[2], horizon=2)
    with pytest.raises(ConfigError, match="horizon must be an int >= 1"):
        net.forecast(y, origins=[5], horizon=0)
    with pytest.raises(ConfigError, match="needs u up to time 10"):
        NARX(1, 1, seed=0).forecast(y, torch.zeros(10), origins=[9], horizon=3)
    with pytest.raises(ConfigError, match="at least one tap"):
        NARX(0)


def test_narx_learns_the_henon_map_that_linear_ar_cannot():
    torch.manual_seed(0)
    d = series_dataset(henon_series(600), lags=2)
    s = split_by_time(d, (0.7, 0.0, 0.3))
    net = NARX(2, hidden=(10,), seed=0, dtype=torch.float64)
    fit(net, (s.train[0].double(), s.train[1].double()), optimizer="lbfgs", lr=1.0, epochs=60, batch_size=None)
    ar = LinearAR.fit(*s.train)
    with torch.no_grad():
        e_net, e_ar = nmse(net(s.test[0].double()), s.test[1]), nmse(ar(s.test[0]), s.test[1])
    assert e_net < 1e-3 and e_ar > 0.3
    assert net.sizes == [2, 10, 1]
