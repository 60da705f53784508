"""Looking into a finished run: its metrics per split, predictions for new rows, ARD relevances.

Each rebuilds what it needs from the run folder alone (:func:`~deepnets.experiment.folder.load_run`
and the experiment's own split and scaling), so it works from any working directory.
"""

from __future__ import annotations

import os

import torch

from ..bayes import evidence_ard
from ..report import plot_relevance
from ..data import Dataset
from ..data.files import read_csv_table
from ..data.limits import override
from ..train.loop import evaluate
from ..train.metrics import predicted_classes
from .build import loss_for
from .folder import load_run
from .forecast import predict_series, series_summary
from .prepare import prepare, scaled


def split_metrics(model, pair, loss, data: Dataset) -> dict:
    """The loss and accuracy (classification) or RMSE (regression) of ``model`` on ``pair``."""
    metrics = ["accuracy"] if data.task == "classification" else ["rmse"]
    threshold = 0.0 if getattr(loss, "coding", None) == "pm1" else None
    return evaluate(model, *pair, loss=loss, metrics=metrics, threshold=threshold)


def evaluate_run(path) -> dict:
    """Rebuild a run's data split from its seed and evaluate its model on train/val/test."""
    return reevaluate_run(path)[0]


def reevaluate_run(path) -> tuple[dict, dict | None]:
    """The metrics per split (as :func:`evaluate_run`) and, for a series run, its forecast report
    recomputed with the same time split and baseline as at training time (None otherwise);
    the folder and the data are loaded once for both."""
    exp, summary, model, scaler = load_run(path)
    data, parts, _, _ = prepare(exp)
    loss = loss_for(exp, data, summary["output"])
    out = {}
    for name, pair in (("train", parts.train), ("val", parts.val), ("test", parts.test)):
        if pair is not None:
            out[name] = split_metrics(model, scaled(scaler, pair), loss, data)
    return out, series_summary(exp, data, scaler, model).get("forecast")


def predict_run(path, csv_path) -> tuple[list[str], list[list]]:
    """Predict for the rows of a CSV that has the run's feature columns (by name, any order;
    other columns are ignored). Returns ``(header, rows)``: the class and its probabilities for
    classification, the predicted targets for regression; for a series run, the one-step
    forecasts of the CSV's series column and the forecasts past its end
    (:func:`~deepnets.experiment.forecast.predict_series`)."""
    exp, summary, model, scaler = load_run(path)
    with override(**exp.data.limits):  # the run's [data.limits] hold for the new file too
        if "forecast" in summary:  # a series run: forecasts from the series column, not from tap columns
            return predict_series(summary["forecast"], torch.nn.Sequential(scaler, model), csv_path)
        _, table = read_csv_table(csv_path, columns=summary["feature_names"])
    x = scaler(torch.from_numpy(table).float())
    with torch.no_grad():
        pred = model(x)
        if summary["output"] == "logits":
            pred = pred.softmax(1)  # (N, C) class probabilities
    if summary["task"] == "classification":
        thr = 0.0 if summary["output"].startswith("tanh") else 0.5
        cls = predicted_classes(pred, thr)
        header = ["prediction"] + ([f"output_{i}" for i in range(pred.shape[1])])
        return header, [[int(c), *(round(float(v), 6) for v in p)] for c, p in zip(cls, pred)]
    return list(summary["target_names"]), [[round(float(v), 6) for v in p] for p in pred]


def relevance_run(path, *, alpha: float = 1.0, rounds: int = 5, inner: int = 50) -> dict:
    """Automatic relevance determination for a trained run (MacKay's evidence re-estimation from
    the run's weights on its training split, in float64): ``{"names", "alpha", "relevance",
    "beta", "plot"}`` with one α and relevance 1/α per input; a bar plot is saved in the run."""
    exp, summary, model, scaler = load_run(path)
    _, parts, _, _ = prepare(exp)
    x, y = scaler(parts.train[0]).double(), parts.train[1]
    model.double()
    res = evidence_ard(model, x, y.double() if summary["task"] == "regression" else y,
                       alpha=alpha, outer=rounds, inner=inner)
    rel = res.input_relevance()
    names = summary["feature_names"]
    plot = os.path.join(os.fspath(path), "relevance.png")
    plot_relevance(names, rel, plot, title=f"{summary['dataset']}: ARD input relevance")
    return {"names": names, "alpha": [float(a) for a in res.alpha], "relevance": [float(r) for r in rel],
            "beta": None if res.beta is None else res.beta.tolist(), "plot": plot}


__all__ = ["split_metrics", "evaluate_run", "reevaluate_run", "predict_run", "relevance_run"]
