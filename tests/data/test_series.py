"""Delay-tap windows, the time split, the CSV series loader and the NARMA-10 / Hénon generators."""

import math
import re

import numpy as np
import pytest
import torch

from deepnets.data import load_dataset
from deepnets.data.series import (SeriesData, delay_taps, henon, henon_series, narma10, narma10_series,
                                  read_series, segment_rows, series_dataset, split_by_time, tap_names)
from deepnets.errors import ConfigError, DataError


def test_hand_worked_windows_with_two_inputs():
    y = torch.tensor([1., 2., 3., 4., 5., 6.])
    u = torch.tensor([[10., -1.], [20., -2.], [30., -3.], [40., -4.], [50., -5.], [60., -6.]])
    x, t = delay_taps(y, 2, u, 3)
    # L = max(2, 3) = 3: targets y_3, y_4, y_5; rows [y_{t-1}, y_{t-2}, u1_{t-1..t-3}, u2_{t-1..t-3}]
    assert x.tolist() == [[3, 2, 30, 20, 10, -3, -2, -1],
                          [4, 3, 40, 30, 20, -4, -3, -2],
                          [5, 4, 50, 40, 30, -5, -4, -3]]
    assert t.flatten().tolist() == [4., 5., 6.]
    assert tap_names(2, 3, "y", ["a", "b"]) == ["y[t-1]", "y[t-2]", "a[t-1]", "a[t-2]", "a[t-3]",
                                                "b[t-1]", "b[t-2]", "b[t-3]"]
    d = series_dataset(y, u, lags=2, input_lags=3, input_names=["a", "b"])
    assert d.first == 3 and d.feature_names[2] == "a[t-1]" and torch.equal(d.x, x.float())


def test_pure_ar_and_pure_fir_windows():
    y = torch.arange(1., 7.)
    x, t = delay_taps(y, 3)
    assert x[0].tolist() == [3., 2., 1.] and t[0, 0] == 4.
    x, t = delay_taps(y, 0, u=y * 10, q=1)          # y_t from u_{t-1} alone
    assert x.flatten().tolist() == [10., 20., 30., 40., 50.] and t.flatten().tolist() == [2., 3., 4., 5., 6.]


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(p=0), ConfigError, "at least one tap"),
    (dict(p=1, q=2), ConfigError, "needs an exogenous input"),
    (dict(p=-1), ConfigError, "lags must be an int >= 0"),
    (dict(p=9), DataError, "no complete window"),
    (dict(p=1, u=torch.zeros(3), q=1), DataError, "T = 5"),
])
def test_delay_tap_errors(kwargs, error, match):
    p = kwargs.pop("p")
    with pytest.raises(error, match=match):
        delay_taps(torch.arange(5.), p, **kwargs)


def test_time_split_is_contiguous_in_time_order_and_never_leaks():
    T, p = 200, 5
    y = torch.randn(T, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    d = series_dataset(y, lags=p)
    s = split_by_time(d, (0.6, 0.2, 0.2))
    rows = segment_rows(len(d), (0.6, 0.2, 0.2))
    assert [hi - lo for lo, hi in rows] == [117, 39, 39] and rows[0][0] == 0 and rows[-1][1] == len(d)
    # each part's targets are y at consecutive times, in order, parts back to back
    times = [torch.arange(d.first + lo, d.first + hi) for lo, hi in rows]
    for part, tt in zip((s.train, s.val, s.test), times):
        torch.testing.assert_close(part[1][:, 0], y[tt].float())
    assert times[0].max() < times[1].min() and times[1].max() < times[2].min()
    # the training rows read nothing at or after the first validation target: change the future
    # and the training part stays bit for bit the same
    cut = int(times[1][0])
    y2 = y.clone()
    y2[cut:] = 1e3
    s2 = split_by_time(series_dataset(y2, lags=p), (0.6, 0.2, 0.2))
    assert torch.equal(s2.train[0], s.train[0]) and torch.equal(s2.train[1], s.train[1])
    assert not torch.equal(s2.val[1], s.val[1])
    # a test row's taps may reach back into the validation segment (past observations)
    torch.testing.assert_close(s.test[0][0], y[int(times[2][0]) - torch.arange(1, p + 1)].float())


def test_time_split_two_parts_and_errors():
    d = series_dataset(torch.arange(50.), lags=1)
    s = split_by_time(d, [0.8, 0.2])
    assert len(s.train[0]) == 39 and len(s.val[0]) == 10 and s.test is None
    with pytest.raises(ConfigError, match="summing to 1"):
        split_by_time(d, [0.5, 0.2, 0.2])
    with pytest.raises(DataError, match="training segment is empty"):
        split_by_time(d, [0.0, 0.5, 0.5])


def test_read_series_from_csv_columns(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("time,u,y\n" + "".join(f"{i},{i * 0.5},{i * i}\n" for i in range(8)))
    y, u = read_series(path, "y", inputs=["u"])
    assert y.dtype == torch.float64 and y.tolist() == [float(i * i) for i in range(8)]
    assert u.shape == (8, 1) and u[3, 0] == 1.5
    d = load_dataset("series", path=str(path), column="y", lags=2, inputs=["u"], input_lags=1)
    assert isinstance(d, SeriesData) and d.feature_names == ["y[t-1]", "y[t-2]", "u[t-1]"]
    assert d.x[0].tolist() == [1.0, 0.0, 0.5] and d.y[0, 0] == 4.0
    assert d.task == "regression" and d.target_names == ["y"]


@pytest.mark.parametrize("text,match", [
    ("y\n1\n2\nnan\n4\n", "line 4, column 'y': NaN"),
    ("y\n1\n\n2\nabc\n", "line 5, column 'y': 'abc', not a number"),
    ("y,z\n1,2\n3\n", "line 3: expected 2 fields"),
    ("yy\n1\n2\n", "missing column(s) ['y']; did you mean 'yy'?"),
    ("y\n1e300\n2\n", "line 2, column 'y': 1e300 exceeds the float32 range"),
])
def test_bad_series_files_name_file_line_and_column(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=re.escape(str(path)) + ".*" + re.escape(match)):
        read_series(path, "y")


def test_series_loader_parameter_errors(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("y\n" + "1\n2\n3\n")
    with pytest.raises(ConfigError, match="has no parameter 'lag'; did you mean 'lags'"):
        load_dataset("series", path=str(path), column="y", lag=2)
    with pytest.raises(ConfigError, match="input_lags = 0"):
        load_dataset("series", path=str(path), column="y", inputs=["y2"])
    with pytest.raises(DataError, match="leave 1 window"):
        load_dataset("series", path=str(path), column="y", lags=2)


def test_narma10_series_obeys_its_recursion_in_delay_taps():
    y, u = narma10_series(600, generator=torch.Generator().manual_seed(3))
    assert ((u >= 0) & (u <= 0.5)).all()
    x, t = delay_taps(y, 10, u, 10)
    ytap, utap = x[:, :10], x[:, 10:]                 # y_{t-1..t-10}, u_{t-1..t-10}
    # y_t = 0.3 y_{t-1} + 0.05 y_{t-1} sum_{i=1..10} y_{t-i} + 1.5 u_{t-10} u_{t-1} + 0.1, vectorised
    rhs = 0.3 * ytap[:, 0] + 0.05 * ytap[:, 0] * ytap.sum(1) + 1.5 * utap[:, 9] * utap[:, 0] + 0.1
    torch.testing.assert_close(t[:, 0], rhs, rtol=0, atol=1e-12)
    y2, u2 = narma10_series(600, generator=torch.Generator().manual_seed(3))
    assert torch.equal(y, y2) and torch.equal(u, u2)
    d = narma10(300, seed=1)
    assert d.x.shape == (290, 20) and d.exog.shape == (300, 1) and d.name == "narma10"


def test_henon_series_is_the_map_and_its_lyapunov_exponent_is_the_published_one():
    a, b = 1.4, 0.3
    x = henon_series(20000, a=a, b=b)
    np.testing.assert_allclose(x[2:].numpy(), (1 - a * x[1:-1] ** 2 + b * x[:-2]).numpy(), rtol=0, atol=1e-12)
    assert float(x.abs().max()) < 1.3                                   # on the bounded attractor
    # largest Lyapunov exponent from products of the Jacobians [[-2 a x_n, 1], [b, 0]] (QR method);
    # the published value for a = 1.4, b = 0.3 is 0.4192 (Sprott, Chaos and Time-Series Analysis, 2003)
    Q, total = np.eye(2), 0.0
    for xn in x.numpy():
        Q, R = np.linalg.qr(np.array([[-2 * a * xn, 1.0], [b, 0.0]]) @ Q)
        total += math.log(abs(R[0, 0]))
    assert abs(total / len(x) - 0.4192) < 0.01
    d = henon(100, noise=0.1, seed=0)
    assert d.x.shape == (98, 2) and not torch.equal(d.series, henon_series(100))
