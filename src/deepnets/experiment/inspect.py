"""Looking into a finished run: its metrics per split or on a new labelled file, predictions for
new rows (the original class labels, or values in the target's units), ARD relevances.

Each rebuilds what it needs from the run folder alone (:func:`~deepnets.experiment.folder.load_run`
and the experiment's own split and scaling; the data file by the absolute path the run recorded),
so it works from any working directory. A data file that changed since training is a warning.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import torch

from ..bayes import evidence_ard, gradient_ard, input_sensitivity
from ..report import plot_relevance
from ..data import Dataset
from ..data.files import read_csv, read_csv_table
from ..data.limits import override
from ..errors import ConfigError
from ..train.loop import evaluate
from ..train.metrics import predicted_classes
from .build import loss_for
from .folder import load_run
from .forecast import forecast_file_report, predict_series, series_summary
from .prepare import prepare, scaled
from .provenance import check_data
from .targets import TargetUnits


def split_metrics(model, pair, loss, data: Dataset, units: TargetUnits | None = None) -> dict:
    """The loss and accuracy (classification) of ``model`` on ``pair``; for regression the loss on
    the targets as the network learnt them (``units``; default: raw) and, in the target's units,
    RMSE, R² and the RMSE of predicting the training mean (:mod:`.targets`)."""
    if data.task == "classification":
        threshold = 0.0 if getattr(loss, "coding", None) == "pm1" else None
        return evaluate(model, *pair, loss=loss, metrics=["accuracy"], threshold=threshold)
    units = units or TargetUnits.fit(pair[1], standardise=False)
    return evaluate(model, *units.encode(pair), loss=loss, metrics=units.metrics())


def _run_data(path, exp, summary: dict):
    """``prepare(exp)`` for a finished run: the data file checked against the one it was trained on
    (a warning when changed), and a CSV's or NPZ's labels mapped onto the run's own classes (so that a
    changed file cannot reorder them; a label the run never saw is an error naming its line)."""
    check_data(path)
    if exp.data.name in ("csv", "npz") and summary.get("classes") is not None:
        exp = dataclasses.replace(exp, data=dataclasses.replace(
            exp.data, params={**exp.data.params, "classes": summary["classes"]}))
    return prepare(exp)


def _units(summary: dict, parts) -> TargetUnits | None:
    """A run's target units; for a run written before they were recorded, raw units with the
    training split's mean as the baseline."""
    if summary["task"] != "regression":
        return None
    return TargetUnits.from_summary(summary) or TargetUnits.fit(parts.train[1], standardise=False)


def evaluate_run(path) -> dict:
    """Rebuild a run's data split from its seed and evaluate its model on train/val/test."""
    return reevaluate_run(path)[0]


def reevaluate_run(path) -> tuple[dict, dict | None]:
    """The metrics per split (as :func:`evaluate_run`) and, for a series run, its forecast report
    recomputed with the same time split and baseline as at training time (None otherwise);
    the folder and the data are loaded once for both."""
    exp, summary, model, scaler = load_run(path)
    data, parts, _, _ = _run_data(path, exp, summary)
    loss = loss_for(exp, data, summary["output"])
    units = _units(summary, parts)
    out = {}
    for name, pair in (("train", parts.train), ("val", parts.val), ("test", parts.test)):
        if pair is not None:
            out[name] = split_metrics(model, scaled(scaler, pair), loss, data, units)
    predictor = model if units is None else units.predictor(model)
    return out, series_summary(exp, data, scaler, predictor).get("forecast")


def evaluate_file(path, csv_path) -> dict:
    """The metrics of a run's network on a new labelled CSV: the run's feature and target columns
    by name (any order, other columns ignored), class labels among the run's classes. For a series
    run, the forecast report on the CSV's series (:func:`~deepnets.experiment.forecast.forecast_file_report`:
    one segment, ``"file"``) under the key ``"forecast"``."""
    exp, summary, model, scaler = load_run(path)
    if "forecast" in summary:
        units = TargetUnits.from_summary(summary)
        net = torch.nn.Sequential(scaler, model if units is None else units.predictor(model))
        with override(**exp.data.limits):
            return {"forecast": forecast_file_report(summary["forecast"], net, csv_path)}
    task = summary["task"]
    classes = summary.get("classes")
    if task == "classification" and classes is None:  # labels are the class indices themselves
        classes = list(range(summary["n_classes"]))
    with override(**exp.data.limits):  # the run's [data.limits] hold for the new file too
        data = read_csv(csv_path, summary["target_names"] if task == "regression" else summary["target_names"][0],
                        task=task, features=summary["feature_names"],
                        classes=classes if task == "classification" else None)
    data.n_classes = summary["n_classes"]
    loss = loss_for(exp, data, summary["output"])
    units = None if task == "classification" else TargetUnits.from_summary(summary)
    return split_metrics(model, scaled(scaler, (data.x, data.y)), loss, data, units)


def predict_run(path, csv_path, *, proba: bool = False) -> tuple[list[str], list[list]]:
    """Predict for the rows (one or more) of a CSV that has the run's feature columns (by name, any
    order; other columns are ignored). Returns ``(header, rows)``: for classification the predicted
    class as its original label and, with ``proba``, a probability column ``p_LABEL`` per class
    (softmax or logistic outputs only); for regression the predicted targets in their units; for a
    series run, the one-step forecasts of the CSV's series column and the forecasts past its end
    (:func:`~deepnets.experiment.forecast.predict_series`)."""
    exp, summary, model, scaler = load_run(path)
    if proba and summary["task"] != "classification":
        raise ConfigError(f"--proba gives class probabilities; {path} is a {summary['task']} run")
    units = TargetUnits.from_summary(summary)
    net = model if units is None else units.predictor(model)
    with override(**exp.data.limits):  # the run's [data.limits] hold for the new file too
        if "forecast" in summary:  # a series run: forecasts from the series column, not from tap columns
            return predict_series(summary["forecast"], torch.nn.Sequential(scaler, net), csv_path)
        _, table = read_csv_table(csv_path, columns=summary["feature_names"], min_rows=1)
    x = scaler(torch.from_numpy(table).float())
    with torch.no_grad():
        pred = net(x)
        if summary["output"] == "logits":
            pred = pred.softmax(1)  # (N, C) class probabilities
    if summary["task"] != "classification":
        return list(summary["target_names"]), [[round(float(v), 6) for v in p] for p in pred]
    thr = 0.0 if summary["output"].startswith("tanh") else 0.5
    cls = predicted_classes(pred, thr)
    labels = summary.get("classes") or list(range(max(summary["n_classes"], 2)))
    if not proba:
        return ["prediction"], [[labels[int(c)]] for c in cls]
    if summary["output"] not in ("softmax", "logistic", "logits"):
        raise ConfigError(f"--proba needs a run with softmax or logistic outputs; this one has "
                          f"{summary['output']!r} outputs, which are not probabilities")
    if pred.shape[1] == 1:  # one logistic unit: P(class 1) = y, P(class 0) = 1 − y
        pred = torch.cat([1 - pred, pred], dim=1)
    header = ["prediction", *(f"p_{label}" for label in labels)]
    return header, [[labels[int(c)], *(round(float(v), 6) for v in p)] for c, p in zip(cls, pred)]


#: how ``deepnets relevance`` sets α and β: MacKay's re-estimation, or a gradient on an objective
ARD_METHODS = {"mackay": evidence_ard,
               "lecture": functools.partial(gradient_ard, objective="lecture"),
               "evidence": functools.partial(gradient_ard, objective="evidence")}


def relevance_run(path, *, alpha: float = 1.0, rounds: int = 5, inner: int = 50, method: str = "mackay",
                  hyper: tuple[float, float, float, float] = (1.0, 0.0, 1.0, 0.0)) -> dict:
    """Automatic relevance determination for a trained run, from the run's weights on its training
    split, in float64: ``{"names", "alpha", "relevance", "gamma", "sensitivity", "beta", "plot"}``
    with, per input, α, the relevance 1/α (the prior variance of its outgoing weights), γ (how many
    of them the data determine) and the sensitivity (RMS ∂f/∂x_j over the training inputs, at the
    weights ARD re-fitted: :func:`deepnets.bayes.input_sensitivity`, which a linear input cannot
    hide by riding on small first-layer weights), and the noise precision β per output in the
    target's units (the network learnt z = (y − mean)/sd: β_y = β_z / sd²); a bar plot of 1/α is
    saved in the run.

    ``method``: ``"mackay"`` (:func:`~deepnets.bayes.evidence_ard`), ``"lecture"`` or ``"evidence"``
    (:func:`~deepnets.bayes.gradient_ard` on that objective; regression only). ``hyper`` = (a, b, c, d):
    the Gamma hyper-priors α ~ Ga(a, b), β ~ Ga(c, d) on α and β themselves (the lecture's; the
    default is none)."""
    if method not in ARD_METHODS:
        raise ConfigError(f"unknown ARD method {method!r}; expected one of {sorted(ARD_METHODS)}")
    a, b, c, d = hyper
    exp, summary, model, scaler = load_run(path)
    _, parts, _, _ = _run_data(path, exp, summary)
    if method != "mackay" and summary["task"] != "regression":
        raise ConfigError(f"--method {method} is for regression runs (the lecture's l(alpha, beta) has "
                          f"Gaussian outputs); this run is {summary['task']}: use --method mackay")
    units = _units(summary, parts)
    x, y = scaler(parts.train[0]).double(), (units.encode(parts.train) if units else parts.train)[1]
    model.double()
    # evidence_ard puts the Gamma density on ln α: its exponents are a − 1 and c − 1 of the lecture's
    prior = dict(a=a - 1, b=b, c=c - 1, d=d) if method == "mackay" else dict(a=a, b=b, c=c, d=d)
    res = ARD_METHODS[method](model, x, y.double() if summary["task"] == "regression" else y,
                              alpha=alpha, outer=rounds, inner=inner, **prior)
    rel = res.input_relevance()
    beta = None if res.beta is None else res.beta.double()
    if beta is not None and units is not None and units.scaler is not None:
        beta = beta / units.scaler.std.double() ** 2
    names = summary["feature_names"]
    plot = os.path.join(os.fspath(path), "relevance.png")
    plot_relevance(names, rel, plot, title=f"{summary['dataset']}: ARD input relevance")
    return {"names": names, "alpha": [float(a) for a in res.alpha], "relevance": [float(r) for r in rel],
            "gamma": [float(g) for g in res.input_gamma()],
            "sensitivity": input_sensitivity(model, x).tolist(),
            "beta": None if beta is None else beta.tolist(), "plot": plot}


def relevance_lines(r: dict) -> list[str]:
    """The table ``deepnets relevance`` prints of :func:`relevance_run`'s answer, ranked by sensitivity."""
    width = max(map(len, r["names"]))
    lines = [f"{'input':<{width}}  {'alpha':>10}  {'1/alpha':>10}  {'gamma':>6}  {'sensitivity':>11}   "
             "(sorted by sensitivity: RMS d output / d input; 1/alpha is the prior variance of its weights)"]
    for i in sorted(range(len(r["names"])), key=lambda i: -r["sensitivity"][i]):
        lines.append(f"{r['names'][i]:<{width}}  {r['alpha'][i]:>10.4g}  {r['relevance'][i]:>10.4g}  "
                     f"{r['gamma'][i]:>6.2f}  {r['sensitivity'][i]:>11.4g}")
    if r["beta"] is not None:
        lines.append("beta (noise precision per output): " + "  ".join(f"{b:.4g}" for b in r["beta"]))
    return lines + [f"plot written to {r['plot']}"]


__all__ = ["split_metrics", "evaluate_run", "reevaluate_run", "evaluate_file", "predict_run", "relevance_run"]
