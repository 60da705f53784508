"""The forecast report of a time-series run: the model beside the linear AR(p) baseline.

For every time segment (train / val / test, contiguous, from :func:`~deepnets.data.series.split_by_time`)
the report gives MSE (in the series' units) and NMSE = MSE / Var_S(y), the variance of the
targets over the evaluated segment S (:func:`~deepnets.train.metrics.nmse`; predicting the
segment's mean scores 1.0), for

- one-step forecasts: every tap observed;
- iterated h-step forecasts: from every origin t₀ of the segment with t₀ + h − 1 still inside it,
  predictions fed back into the output taps (:func:`~deepnets.zoo.narx.iterated_forecast`); the
  headline is the h-step-ahead error, with the NMSE of each step 1..h beside it;

each for the trained network and for the AR(p) (ARX(p, q) with inputs) least-squares baseline
fitted on the training segment only (:class:`~deepnets.zoo.linear_ar.LinearAR`).
"""

from __future__ import annotations

import torch

from ..data.series import SeriesData, delay_taps, read_series, segment_rows, split_by_time
from ..errors import ConfigError, DataError
from ..report.forecast_plot import forecast_plot
from ..train.metrics import mse, nmse
from ..zoo.linear_ar import LinearAR
from ..zoo.narx import iterated_forecast, one_step_forecast

SEGMENTS = ("train", "val", "test")
NORMALISER = "variance of the targets over the evaluated segment (predicting its mean gives NMSE 1)"


def baseline_name(data: SeriesData) -> str:
    """``"AR(p)"``, or ``"ARX(p, q)"`` when the series has exogenous inputs."""
    return f"ARX({data.lags}, {data.input_lags})" if data.exog is not None else f"AR({data.lags})"


def split_series(exp, data: SeriesData):
    """The time split of an experiment's series (``data.split``), checking ``data.horizon`` fits
    in the last segment so that a run does not train before failing."""
    h = exp.data.horizon
    if not isinstance(h, int) or isinstance(h, bool) or h < 1:
        raise ConfigError(f"data.horizon (steps of the iterated forecast) must be an int >= 1, got {h!r}")
    parts = split_by_time(data, exp.data.split)
    last = parts.test or parts.val or parts.train
    if len(last[0]) < h:
        raise ConfigError(f"data.horizon = {h} is longer than the last time segment ({len(last[0])} targets): "
                          f"lower the horizon or give that segment a larger fraction of data.split")
    return parts


def _errors(pred: torch.Tensor, target: torch.Tensor) -> dict:
    pred, target = pred.reshape(-1, 1), target.reshape(-1, 1)
    return {"mse": mse(pred, target), "nmse": nmse(pred, target)}


def forecast_report(model: torch.nn.Module, data: SeriesData, fractions, *, horizon: int) -> dict:
    """One-step and iterated forecast errors of ``model`` and of the AR baseline, per segment.

    Args:
        model: raw delay-tap rows (N, p + q·m) -> (N, 1) in the series' units (for a run,
            ``Sequential(scaler, network)``).
        data: the :class:`~deepnets.data.series.SeriesData` the model was trained on.
        fractions: the time split (as given to :func:`~deepnets.data.series.split_by_time`).
        horizon: h, steps of the iterated forecast.

    Returns:
        ``{"baseline", "normaliser", "horizon", "column", "inputs", "lags", "input_lags",
        "ar": {"weights", "intercept"}, "segments":
        {name: {"times", "one_step": {"model", "ar"}, "iterated": {"origins", "model", "ar",
        "nmse_by_step": {"model", "ar"}} or None}}}``, each error a ``{"mse", "nmse"}`` dict.
    """
    rows = segment_rows(len(data), fractions)
    y, u, p, q = data.series, data.exog, data.lags, data.input_lags
    lo, hi = rows[0]
    x64, t64 = delay_taps(y, p, u, q)                 # the rows of data.x in float64 (data.x is float32)
    ar = LinearAR.fit(x64[lo:hi], t64[lo:hi])
    models = {"model": model, "ar": ar}
    segments = {}
    for name, (lo, hi) in zip(SEGMENTS, rows):
        if hi > lo:
            segments[name] = _segment(models, y, u, p, q, data.first + lo, data.first + hi, horizon)
    return {"baseline": baseline_name(data), "normaliser": NORMALISER, "horizon": horizon,
            "column": data.target_names[0], "inputs": list(data.input_names), "lags": p, "input_lags": q,
            "ar": {"weights": ar.weight[0].tolist(), "intercept": float(ar.bias[0])}, "segments": segments}


def _segment(models: dict, y, u, p: int, q: int, t_lo: int, t_hi: int, horizon: int) -> dict:
    """The one-step and iterated h-step errors of each model on the target times [t_lo, t_hi)."""
    times = torch.arange(t_lo, t_hi)
    seg = {"times": [t_lo, t_hi],
           "one_step": {k: _errors(one_step_forecast(m, y, u, lags=p, input_lags=q, times=times), y[times])
                        for k, m in models.items()},
           "iterated": None}
    origins = torch.arange(t_lo, t_hi - horizon + 1)                      # t0 + h − 1 < t_hi
    if len(origins):
        steps = origins.unsqueeze(1) + torch.arange(horizon)              # (n, h) forecast times
        target = y[steps]                                                 # (n, h)
        it = {"origins": len(origins)}
        by_step = {}
        for k, m in models.items():
            pred = iterated_forecast(m, y, u, lags=p, input_lags=q, origins=origins, horizon=horizon)
            it[k] = _errors(pred[:, -1], target[:, -1])
            by_step[k] = [nmse(pred[:, s:s + 1], target[:, s:s + 1]) for s in range(horizon)]
        it["nmse_by_step"] = by_step
        seg["iterated"] = it
    return seg


def forecast_file_report(report: dict, model: torch.nn.Module, csv_path) -> dict:
    """A series run's forecast errors on a new series (a CSV with the run's column and input
    columns, rows in time order): the run's ``report`` with one segment, ``"file"``, holding the
    one-step and iterated errors of ``model`` and of the run's own AR baseline (fitted at
    training time, not refitted) on every time t >= max(p, q) of the file."""
    column, inputs, p, q, h = (report[k] for k in ("column", "inputs", "lags", "input_lags", "horizon"))
    y, u = read_series(csv_path, column, inputs=inputs or None)
    L = max(p, q)
    if y.shape[0] <= L:
        raise DataError(f"{csv_path}: {y.shape[0]} rows; forecasting with {L} taps needs more than {L}")
    ar = LinearAR(len(report["ar"]["weights"]))
    with torch.no_grad():
        ar.weight.copy_(torch.tensor([report["ar"]["weights"]], dtype=torch.float64))
        ar.bias.fill_(report["ar"]["intercept"])
    seg = _segment({"model": model, "ar": ar}, y, u, p, q, L, y.shape[0], h)
    return {**report, "segments": {"file": seg}}


def series_summary(exp, data, scaler, model) -> dict:
    """``{"forecast": forecast_report(...)}`` for a run on a series, ``{}`` for any other dataset."""
    if not isinstance(data, SeriesData):
        return {}
    net = torch.nn.Sequential(scaler, model).to("cpu")  # forecasts run it in eval mode and restore the mode
    return {"forecast": forecast_report(net, data, exp.data.split, horizon=exp.data.horizon)}


def series_plot(exp, data, scaler, model, summary: dict, path, *, max_points: int = 300) -> None:
    """``forecast.png`` for a run on a series (nothing for other datasets): the last segment's first
    ``max_points`` targets with the network's and the baseline's one-step forecasts, and NMSE per
    step of the iterated forecasts."""
    if not isinstance(data, SeriesData) or "forecast" not in summary:
        return
    report = summary["forecast"]
    name = next(n for n in ("test", "val", "train") if n in report["segments"])
    seg = report["segments"][name]
    t_lo, t_hi = seg["times"]
    times = torch.arange(t_lo, min(t_hi, t_lo + max_points))
    net = torch.nn.Sequential(scaler, model).to("cpu")
    ar = LinearAR(len(report["ar"]["weights"]))
    with torch.no_grad():
        ar.weight.copy_(torch.tensor([report["ar"]["weights"]], dtype=torch.float64))
        ar.bias.fill_(report["ar"]["intercept"])
    y, u, p, q = data.series, data.exog, data.lags, data.input_lags
    one = {label: one_step_forecast(m, y, u, lags=p, input_lags=q, times=times).tolist()
           for label, m in (("network", net), (report["baseline"], ar))}
    by_step = {}
    if seg["iterated"] is not None:
        by_step = {"network": seg["iterated"]["nmse_by_step"]["model"],
                   report["baseline"]: seg["iterated"]["nmse_by_step"]["ar"]}
    forecast_plot(times.tolist(), y[times].tolist(), one, by_step, path, segment=name,
                  title=f"{data.name}: forecasts beside {report['baseline']}")


def predict_series(report: dict, model: torch.nn.Module, csv_path) -> tuple[list[str], list[list]]:
    """Forecasts for a series in a CSV with the run's column (and input columns), rows in time order.

    One row per time t >= L = max(p, q): the observation y_t and the one-step forecast ŷ_t from the
    observed taps; then forecasts past the last row T − 1: the iterated h-step forecast from
    origin T without inputs, the single next step ŷ_T with inputs (later steps would need future
    inputs). Returns ``(["t", column, "forecast"], rows)``; the observation is empty past the data.
    """
    column, inputs, p, q, h = (report[k] for k in ("column", "inputs", "lags", "input_lags", "horizon"))
    y, u = read_series(csv_path, column, inputs=inputs or None)
    T, L = y.shape[0], max(p, q)
    if T <= L:
        raise DataError(f"{csv_path}: {T} rows; forecasting with {L} taps needs more than {L}")
    times = torch.arange(L, T)
    one = one_step_forecast(model, y, u, lags=p, input_lags=q, times=times)
    ahead = iterated_forecast(model, y, u, lags=p, input_lags=q, origins=[T], horizon=1 if inputs else h)[0]
    rows = [[int(t), float(y[t]), round(float(f), 9)] for t, f in zip(times, one)]
    rows += [[T + s, "", round(float(f), 9)] for s, f in enumerate(ahead)]
    return ["t", column, "forecast"], rows


__all__ = ["forecast_report", "forecast_file_report", "series_summary", "series_plot", "predict_series", "split_series", "baseline_name",
           "NORMALISER"]
