"""NARX / NARMA networks: an MLP over delay taps, with one-step and iterated forecasts.

The lecture: "MLPs with delayed inputs and outputs generalize autoregressive models with
nonlinear hidden units". With p output taps and q input taps,

    ŷ_t = f_W(y_{t−1}, …, y_{t−p}, u_{t−1}, …, u_{t−q})      (f_W an MLP; linear f is AR / ARX)

- **One-step** forecast: every tap holds an observed value.
- **Iterated** h-step forecast from origin t₀: the taps start from the observed y_{t₀−1..t₀−p};
  each prediction ŷ_t is then fed back into the output taps in place of y_t, so ŷ_{t₀+h−1} uses
  h−1 of the network's own outputs. The exogenous input u is known (it drives the system).

Any module mapping delay-tap rows (N, p + q·m) to (N, 1) forecasts here: :class:`NARX`, a plain
:class:`~deepnets.nn.mlp.MLP`, ``Sequential(scaler, mlp)``, or the linear
:class:`~deepnets.zoo.linear_ar.LinearAR` baseline.

References: Leontaritis & Billings 1985 (NARMAX); Narendra & Parthasarathy 1990 (neural networks
for identification of dynamical systems); Lapedes & Farber 1987 (iterated MLP forecasts).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from .._registry import eval_mode
from ..errors import ConfigError
from ..nn.mlp import MLP


def _param_dtype(model: nn.Module) -> torch.dtype:
    """The dtype the model computes in: its first floating parameter's (or buffer's); float64 for none."""
    for t in (*model.parameters(), *model.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.float64


def iterated_forecast(model: nn.Module, y, u=None, *, lags: int, input_lags: int = 0,
                      origins: Sequence[int] | Tensor, horizon: int) -> Tensor:
    """Iterated forecasts ŷ_{t₀}, …, ŷ_{t₀+h−1} from each origin t₀, predictions fed back.

    At step s (time t = t₀ + s) the row is x_t = [ŷ/y_{t−1}, …, ŷ/y_{t−p}, u_{t−1..t−q}] where a
    tap holds the prediction ŷ_τ when τ >= t₀ and the observation y_τ before; all origins advance
    together as one batch (h model calls). With ``horizon = 1`` these are the one-step forecasts.

    Args:
        model: rows (N, p + q·m) -> (N, 1); called in eval mode without gradients.
        y: the observed series (T,); only y_τ with τ < t₀ is read for origin t₀.
        u: exogenous input (T,) or (T, m), needed up to time t₀ + h − 2 when q > 0.
        lags: p; input_lags: q, as in :func:`deepnets.data.series.delay_taps`.
        origins: first forecast times t₀, each in [max(p, q), T] (t₀ = T forecasts past the data).
        horizon: h >= 1 steps.

    Returns:
        Forecasts (len(origins), h), float64; column s is the (s+1)-step-ahead forecast.
    """
    y = torch.as_tensor(y, dtype=torch.float64)
    T = y.shape[0]
    if u is not None:
        u = torch.as_tensor(u, dtype=torch.float64)
        u = u.unsqueeze(1) if u.dim() == 1 else u                              # (T, m)
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        raise ConfigError(f"horizon must be an int >= 1, got {horizon!r}")
    if input_lags > 0 and u is None:
        raise ConfigError(f"input_lags = {input_lags} needs the exogenous input u")
    t0 = torch.as_tensor(origins, dtype=torch.long).reshape(-1)                # (n,)
    L = max(lags, input_lags)
    if len(t0) and (int(t0.min()) < L or int(t0.max()) > T):
        raise ConfigError(f"origins must lie in [{L}, {T}] (max(lags, input_lags) .. series length), "
                          f"got {int(t0.min())} .. {int(t0.max())}")
    if input_lags > 0 and len(t0) and int(t0.max()) + horizon - 2 >= u.shape[0]:
        raise ConfigError(f"u has {u.shape[0]} steps; a {horizon}-step forecast from origin {int(t0.max())} "
                          f"needs u up to time {int(t0.max()) + horizon - 2}")
    dtype = _param_dtype(model)
    k = torch.arange(1, lags + 1)                                              # (p,) lags 1..p
    buf = y[t0.unsqueeze(1) - k] if lags else y.new_zeros(len(t0), 0)          # (n, p) newest first
    out = torch.empty(len(t0), horizon, dtype=torch.float64)
    kq = torch.arange(1, input_lags + 1)                                       # (q,)
    with eval_mode(model):
        with torch.no_grad():
            for s in range(horizon):
                cols = [buf]
                if input_lags:
                    taps = u[(t0 + s).unsqueeze(1) - kq]                       # (n, q, m)
                    cols.append(taps.transpose(1, 2).reshape(len(t0), -1))     # (n, m·q), input by input
                x = torch.cat(cols, dim=1)                                     # (n, p + q·m)
                pred = model(x.to(dtype)).to(torch.float64).reshape(len(t0))   # (n,)
                out[:, s] = pred
                if lags:
                    buf = torch.cat([pred.unsqueeze(1), buf[:, :-1]], dim=1)   # shift the taps, newest first
    return out


def one_step_forecast(model: nn.Module, y, u=None, *, lags: int, input_lags: int = 0,
                      times: Sequence[int] | Tensor) -> Tensor:
    """One-step forecasts ŷ_t from observed taps, for each time t in ``times``: (len(times),) float64."""
    return iterated_forecast(model, y, u, lags=lags, input_lags=input_lags, origins=times, horizon=1)[:, 0]


class NARX(MLP):
    """A NARX / NARMA network: an :class:`~deepnets.nn.mlp.MLP` over p output and q input taps.

        ŷ_t = W(L) g(… g(W(1) x_t + b(1)) …) + b(L),  x_t = [y_{t−1..t−p}, u_{t−1..t−q}]

    Trains like any MLP on :func:`~deepnets.data.series.delay_taps` rows (co-state backward pass,
    the regularizers, every optimizer) and forecasts with :meth:`forecast`.

    Args:
        lags: p output taps.
        input_lags: q taps per exogenous input. Default 0 (a nonlinear AR model).
        hidden: hidden-layer widths. Default (10,).
        n_exog: m, exogenous input columns. Default 1 when ``input_lags`` > 0, else 0.
        activation, init, seed, generator, dtype: as for :class:`~deepnets.nn.mlp.MLP`; the
            output unit is linear.

    >>> net = NARX(3, 2, hidden=(5,), seed=0)
    >>> net.sizes
    [5, 5, 1]
    >>> net.forecast(torch.linspace(0, 1, 20), torch.zeros(20), origins=[10, 15], horizon=4).shape
    torch.Size([2, 4])
    """

    def __init__(self, lags: int, input_lags: int = 0, hidden: Sequence[int] = (10,), *, n_exog: int | None = None,
                 activation="tanh", init: str = "torch", seed: int | None = None,
                 generator: torch.Generator | None = None, dtype: torch.dtype | None = None):
        if n_exog is None:
            n_exog = 1 if input_lags > 0 else 0
        for name, v in (("lags", lags), ("input_lags", input_lags), ("n_exog", n_exog)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ConfigError(f"{name} must be an int >= 0, got {v!r}")
        n_taps = lags + input_lags * n_exog
        if n_taps == 0:
            raise ConfigError("a NARX network needs at least one tap (lags >= 1, or input_lags and n_exog >= 1)")
        super().__init__([n_taps, *hidden, 1], activation=activation, output="linear", init=init, seed=seed,
                         generator=generator, dtype=dtype)
        self.lags, self.input_lags, self.n_exog = lags, input_lags, n_exog

    def forecast(self, y, u=None, *, origins, horizon: int = 1) -> Tensor:
        """Iterated forecasts (len(origins), horizon) by :func:`iterated_forecast` with this net's taps."""
        return iterated_forecast(self, y, u, lags=self.lags, input_lags=self.input_lags, origins=origins,
                                 horizon=horizon)


__all__ = ["NARX", "iterated_forecast", "one_step_forecast"]
