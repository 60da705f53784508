"""Time series as delay-tap regression: windows of past outputs (and inputs), split by time.

The lecture's autoregressive models "predict the next term in a sequence from a fixed number of
previous ones using delay taps", and NARMA models are "MLPs with delayed inputs and outputs":

    y_t ≈ f(y_{t−1}, …, y_{t−p}, u_{t−1}, …, u_{t−q})      (NARX; AR(p) when f is linear, q = 0)

:func:`delay_taps` turns a series y (T,) and an optional exogenous input u (T, m) into one row per
target time t = L, …, T−1 (L = max(p, q)):

    x_t = [y_{t−1}, …, y_{t−p}, u¹_{t−1}, …, u¹_{t−q}, …, uᵐ_{t−1}, …, uᵐ_{t−q}],   target y_t.

:func:`split_by_time` cuts these rows into contiguous train / validation / test segments by the
target's time, never shuffled across the cut: a row's taps may reach back into the previous
segment (they are past observations), its target never leaves its own segment.

Generators shipped in code (nothing is downloaded): NARMA-10 (:func:`narma10_series`) and the
chaotic Hénon map (:func:`henon_series`). A user's series comes from a named CSV column
(:func:`read_series`), every cell checked by :func:`deepnets.data.files.read_csv_table`.

>>> x, t = delay_taps(torch.tensor([1., 2., 3., 4., 5.]), 2)
>>> x.tolist(), t.flatten().tolist()
([[2.0, 1.0], [3.0, 2.0], [4.0, 3.0]], [3.0, 4.0, 5.0])
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..errors import ConfigError, DataError
from .dataset import Dataset, Splits, _bounds
from .files import read_csv_table


def _check_int(name: str, value, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def _as_exog(u, T: int) -> Tensor | None:
    if u is None:
        return None
    u = torch.as_tensor(u, dtype=torch.float64)
    if u.dim() == 1:
        u = u.unsqueeze(1)                                                   # (T,) -> (T, 1)
    if u.dim() != 2 or u.shape[0] != T:
        raise DataError(f"the exogenous input must be (T,) or (T, m) with T = {T} like the series, "
                        f"got shape {tuple(u.shape)}")
    return u


def delay_taps(y, p: int, u=None, q: int = 0) -> tuple[Tensor, Tensor]:
    """Delay-tap rows x_t = [y_{t−1} … y_{t−p}, u_{t−1} … u_{t−q}] and targets y_t, t = L … T−1.

    L = max(p, q), so the first row is the earliest with every tap observed. Row i has target time
    L + i. Several exogenous inputs (u of shape (T, m)) give q taps each, input by input.

    Args:
        y: the series (T,).
        p: output taps (lags of y), >= 0 (p = 0 with q > 0 is a pure input-output FIR model).
        u: optional exogenous input (T,) or (T, m), known at every time.
        q: input taps per input column, >= 0 (needs u when > 0).

    Returns:
        ``(x, target)``: x (T − L, p + q·m) and target (T − L, 1), in y's dtype (float64 for lists).
    """
    y = torch.as_tensor(y)
    if not y.is_floating_point():
        y = y.double()
    if y.dim() != 1:
        raise DataError(f"a series must be 1-D (T,), got shape {tuple(y.shape)}")
    _check_int("lags", p, 0)
    _check_int("input_lags", q, 0)
    T = y.shape[0]
    u = _as_exog(u, T)
    if q > 0 and u is None:
        raise ConfigError(f"input_lags = {q} needs an exogenous input series u")
    if p + (q * u.shape[1] if u is not None else 0) == 0:
        raise ConfigError("a delay-tap model needs at least one tap: lags >= 1 or input_lags >= 1 with inputs")
    L = max(p, q)
    if T - L < 1:
        raise DataError(f"a series of length {T} has no complete window of {L} taps")
    cols = [y[L - k:T - k] for k in range(1, p + 1)]                          # each (T − L,)
    if u is not None:
        cols += [u[L - k:T - k, j].to(y.dtype) for j in range(u.shape[1]) for k in range(1, q + 1)]
    x = torch.stack(cols, dim=1)                                             # (T − L, p + q·m)
    return x, y[L:].unsqueeze(1)                                             # (T − L, 1)


def tap_names(p: int, q: int = 0, output: str = "y", inputs=("u",)) -> list[str]:
    """Column names of :func:`delay_taps`'s rows: ``y[t-1] … y[t-p]``, then ``u[t-1] …`` per input."""
    names = [f"{output}[t-{k}]" for k in range(1, p + 1)]
    return names + [f"{name}[t-{k}]" for name in (inputs if q else ()) for k in range(1, q + 1)]


@dataclass
class SeriesData(Dataset):
    """A :class:`Dataset` of delay-tap rows that remembers the series it was cut from.

    Attributes (besides the Dataset's): ``series`` y (T,) and ``exog`` u (T, m) or None, both
    float64 as read; ``lags`` p and ``input_lags`` q; ``input_names`` the m input columns' names. Row i of x predicts y at time
    ``first + i`` with ``first = max(p, q)``. Split it with :func:`split_by_time`, never at random.
    """

    series: Tensor | None = None
    exog: Tensor | None = None
    lags: int = 1
    input_lags: int = 0
    input_names: list = field(default_factory=list)

    @property
    def first(self) -> int:
        """The target time of row 0: L = max(p, q)."""
        return max(self.lags, self.input_lags)


def series_dataset(y, u=None, *, lags: int, input_lags: int = 0, name: str = "series",
                   output_name: str = "y", input_names=None) -> SeriesData:
    """Delay-tap rows of y (and u) as a regression :class:`SeriesData` (x, y float32; series float64)."""
    y = torch.as_tensor(y, dtype=torch.float64)
    x, t = delay_taps(y, lags, u, input_lags)
    u = _as_exog(u, y.shape[0])
    m = 0 if u is None else u.shape[1]
    if input_names is None:
        input_names = ["u"] if m == 1 else [f"u{j + 1}" for j in range(m)]
    if len(input_names) != m:
        raise ConfigError(f"{m} exogenous input column(s) but {len(input_names)} name(s): {list(input_names)}")
    if x.shape[0] < 2:
        raise DataError(f"{name}: {y.shape[0]} values leave {x.shape[0]} window(s) of {max(lags, input_lags)} "
                        f"taps; at least 2 are needed")
    return SeriesData(x.float(), t.float(), "regression", name,
                      feature_names=tap_names(lags, input_lags, output_name, input_names),
                      target_names=[output_name], series=y, exog=u, lags=lags, input_lags=input_lags,
                      input_names=list(input_names))


def segment_rows(n: int, fractions) -> list[tuple[int, int]]:
    """Contiguous row ranges ``[(lo, hi), …]`` (train, validation[, test]) of n time-ordered rows."""
    fr = [float(f) for f in fractions]
    if len(fr) not in (2, 3) or any(f < 0 for f in fr) or abs(sum(fr) - 1.0) > 1e-6:
        raise ConfigError(f"time-split fractions must be 2 or 3 non-negative numbers summing to 1 "
                          f"(train, validation[, test]), got {list(fractions)}")
    b = _bounds(n, fr)
    return [(b[k], b[k + 1]) for k in range(len(fr))]


def split_by_time(data: SeriesData, fractions=(0.65, 0.10, 0.25)) -> Splits:
    """Train / validation / test as contiguous segments of target time, in time order.

    Row ranges come from :func:`segment_rows`; the training segment holds the earliest targets.
    An empty segment is None. Nothing is shuffled here (a training loop may still shuffle rows
    within the training segment: each row carries its own past).

    >>> d = series_dataset(torch.arange(12.), lags=2)
    >>> s = split_by_time(d, (0.6, 0.2, 0.2))
    >>> s.train[1].flatten().tolist(), s.test[1].flatten().tolist()
    ([2.0, 3.0, 4.0, 5.0, 6.0, 7.0], [10.0, 11.0])
    """
    parts = []
    for lo, hi in segment_rows(len(data), fractions):
        parts.append((data.x[lo:hi], data.y[lo:hi]) if hi > lo else None)
    if parts[0] is None:
        raise DataError(f"{data.name}: the training segment is empty ({len(data)} windows, fractions {list(fractions)})")
    return Splits(parts[0], parts[1], parts[2] if len(parts) > 2 else None)


def read_series(path, column: str, *, inputs=None) -> tuple[Tensor, Tensor | None]:
    """A series (and exogenous inputs) from named columns of a CSV with a header, rows in time order.

    Every cell is checked (empty, non-numeric, NaN, ±inf, beyond float32): a
    :class:`~deepnets.errors.DataError` names the file, the line and the column.

    Returns:
        ``(y, u)``: y (T,) float64 and u (T, m) float64, or None without ``inputs``.
    """
    if not isinstance(column, str):
        raise ConfigError(f"column must be one column name, got {column!r}")
    inputs = [] if inputs is None else ([inputs] if isinstance(inputs, str) else list(inputs))
    if column in inputs:
        raise ConfigError(f"column {column!r} is both the series and an input")
    _, table = read_csv_table(path, columns=[column, *inputs])
    t = torch.from_numpy(table)                                              # (T, 1 + m) float64
    return t[:, 0].clone(), (t[:, 1:].clone() if inputs else None)


def series_csv(path, column: str, *, lags: int = 10, inputs=None, input_lags: int = 0) -> SeriesData:
    """Delay-tap rows from a CSV column (the ``"series"`` dataset): y_t from y_{t−1..t−lags} and
    the ``inputs`` columns at t−1..t−input_lags.

    Args:
        path: a CSV file with a header; rows are consecutive times.
        column: the series' column name.
        lags: output taps p. Default 10.
        inputs: exogenous input column name(s), or None.
        input_lags: taps q per input column. Default 0.
    """
    names = [] if inputs is None else ([inputs] if isinstance(inputs, str) else list(inputs))
    if names and input_lags == 0:
        raise ConfigError(f"inputs {names} are given but input_lags = 0: set input_lags >= 1 or drop inputs")
    y, u = read_series(path, column, inputs=names)
    return series_dataset(y, u, lags=lags, input_lags=input_lags, name=os.fspath(path),
                          output_name=column, input_names=names or None)


def narma10_series(T: int, *, generator: torch.Generator | None = None, washout: int = 200) -> tuple[Tensor, Tensor]:
    """The NARMA-10 system driven by u_t ~ U[0, 0.5]: ``(y, u)`` of length T, float64.

        y_{t+1} = 0.3 y_t + 0.05 y_t Σ_{i=0}^{9} y_{t−i} + 1.5 u_{t−9} u_t + 0.1

    started from y = 0 and run ``washout`` steps before the T kept ones. In delay taps,
    y_t = f(y_{t−1..t−10}, u_{t−1}, u_{t−10}): a NARX model with p = q = 10 can fit it exactly.

    Args:
        T: steps kept (>= 1).
        generator: the random stream of u.
        washout: steps run and dropped first (the transient from y = 0). Default 200.

    References: Atiya & Parlos 2000 (IEEE Trans. Neural Networks 11(3)); Jaeger 2003 (this form).
    """
    _check_int("T", T, 1)
    _check_int("washout", washout, 0)
    n = T + washout
    u = torch.rand(n, generator=generator, dtype=torch.float64) * 0.5
    y = [0.0] * n
    uu = u.tolist()
    for t in range(9, n - 1):  # the recursion is sequential: a Python loop over floats is fastest
        y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * sum(y[t - 9:t + 1]) + 1.5 * uu[t - 9] * uu[t] + 0.1
    y = torch.tensor(y, dtype=torch.float64)
    if not torch.isfinite(y).all():  # pragma: no cover - not seen for u in [0, 0.5]
        raise DataError("the NARMA-10 recursion diverged for this seed; try another seed")
    return y[washout:], u[washout:]


def narma10(n: int = 2000, *, seed: int = 0, lags: int = 10, input_lags: int = 10, washout: int = 200) -> SeriesData:
    """The ``"narma10"`` dataset: delay-tap rows of NARMA-10 and its input (see :func:`narma10_series`)."""
    y, u = narma10_series(n, generator=torch.Generator().manual_seed(seed), washout=washout)
    return series_dataset(y, u, lags=lags, input_lags=input_lags, name="narma10")


def henon_series(T: int, *, a: float = 1.4, b: float = 0.3, x0: float = 0.0, y0: float = 0.0,
                 washout: int = 100) -> Tensor:
    """The first coordinate of the Hénon map, a chaotic series: x (T,) float64.

        x_{n+1} = 1 − a x_n² + y_n,  y_{n+1} = b x_n   ⇔   x_{n+1} = 1 − a x_n² + b x_{n−1}

    so x is a nonlinear AR(2) with no noise: an MLP on 2 taps can predict it exactly, a linear
    AR(p) cannot. With the classic a = 1.4, b = 0.3 the orbit lies on the strange attractor (largest
    Lyapunov exponent ≈ 0.42).

    Args:
        T: steps kept; washout: steps dropped first (reach the attractor). x0, y0: start.

    Reference: Hénon 1976, "A two-dimensional mapping with a strange attractor", Commun. Math. Phys. 50.
    """
    _check_int("T", T, 1)
    _check_int("washout", washout, 0)
    xs, x, y = [], float(x0), float(y0)
    for _ in range(T + washout):
        x, y = 1.0 - a * x * x + y, b * x
        xs.append(x)
    out = torch.tensor(xs, dtype=torch.float64)
    if not torch.isfinite(out).all():
        raise DataError(f"the Hénon orbit from ({x0}, {y0}) with a = {a}, b = {b} escaped to infinity")
    return out[washout:]


def henon(n: int = 2000, *, lags: int = 2, a: float = 1.4, b: float = 0.3, x0: float = 0.0, y0: float = 0.0,
          washout: int = 100, noise: float = 0.0, seed: int = 0) -> SeriesData:
    """The ``"henon"`` dataset: delay-tap rows of the Hénon map's x, plus optional Gaussian
    observation noise of standard deviation ``noise`` (drawn with ``seed``)."""
    x = henon_series(n, a=a, b=b, x0=x0, y0=y0, washout=washout)
    if noise:
        x = x + noise * torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return series_dataset(x, lags=lags, name="henon", output_name="x")


__all__ = ["delay_taps", "tap_names", "SeriesData", "series_dataset", "segment_rows", "split_by_time",
           "read_series", "series_csv", "narma10_series", "narma10", "henon_series", "henon"]
