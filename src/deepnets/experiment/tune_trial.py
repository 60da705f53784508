"""One trial of ``deepnets tune``: train the experiment a trial's parameters describe and score it.

The data are loaded, split and scaled as ``deepnets train`` does, the network trained with the
experiment's ``[train]`` (early stopping, restarts and the divergence guard included; no run
folder, no checkpoints), and scored on the held-out part:

- ``heldout = "validation"``: the validation split; objectives ``val_loss`` (the cost E per
  sample as training sees it), ``val_accuracy`` (classification), ``val_rmse`` and ``val_r2``
  (regression, in the target's units);
- ``heldout = "cv"``: ``cv_error``, k-fold cross-validation on the training split
  (:func:`~deepnets.train.select.cross_validate`: the squared error per sample of the net that
  did not see it, Stone 1974);
- ``heldout = "blocked"``: ``cv_error`` of blocked (forward-chaining) cross-validation, for a
  time series: each fold trains on the blocks before the one it is tested on, never on the future;
- ``n_weights``: N_W, the network's number of weights (the second objective of a search for
  small, accurate nets).

With a single objective, every epoch's validation value (every fold's running mean for CV) is
reported to the trial, so that Optuna's pruner can stop a bad trial
(:class:`optuna.TrialPruned`).
"""

from __future__ import annotations

import torch

from ..data.series import SeriesData
from ..errors import ConfigError
from ..train.callbacks import Callback, DivergenceGuard, EarlyStopping, RestartOnStall
from ..train.loop import fit
from ..train.select import cross_validate, n_weights, squared_errors
from .build import build_model, loss_for, output_for
from .inspect import split_metrics
from .prepare import prepare, scaled
from .run import fit_arguments
from .targets import TargetUnits

__all__ = ["OBJECTIVES", "MAXIMISED", "check_objectives", "check_data", "train_trial", "TrialReporter"]

#: the objectives a study can have, by the held-out estimate that gives them
OBJECTIVES = {"validation": ("val_loss", "val_accuracy", "val_rmse", "val_r2", "n_weights"),
              "cv": ("cv_error", "n_weights"), "blocked": ("cv_error", "n_weights")}
#: objectives that are maximised (all others are minimised)
MAXIMISED = ("val_accuracy", "val_r2")


def check_objectives(tune) -> list[str]:
    """The study's directions ("minimize"/"maximize"), after checking ``tune.objectives`` and ``tune.heldout``."""
    if tune.heldout not in OBJECTIVES:
        raise ConfigError(f"tune.heldout must be one of {', '.join(OBJECTIVES)}, got {tune.heldout!r}")
    names = tune.objectives
    if not names or len(set(names)) != len(names) or any(n not in OBJECTIVES[tune.heldout] for n in names):
        raise ConfigError(f"tune.objectives with heldout = {tune.heldout!r} takes distinct names among "
                          f"{', '.join(OBJECTIVES[tune.heldout])}, got {names!r}")
    least = {"cv": 2, "blocked": 1}.get(tune.heldout, 0)
    if tune.folds < least:
        raise ConfigError(f"tune.folds must be >= {least} for heldout = {tune.heldout!r}, got {tune.folds!r}")
    return ["maximize" if n in MAXIMISED else "minimize" for n in names]


class TrialReporter(Callback):
    """Reports ``logs[monitor]`` after each epoch to an Optuna trial; when the pruner says so,
    stops training and sets ``pruned`` (the caller then raises :class:`optuna.TrialPruned`)."""

    def __init__(self, trial, monitor: str):
        self.trial, self.monitor, self.pruned = trial, monitor, False

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        self.trial.report(float(value), epoch)
        if self.trial.should_prune():
            self.pruned = True
            self.loop.stop_training = True


def _callbacks(exp, has_val: bool) -> list:
    t, out = exp.train, []
    if t.restarts is not None:
        r = t.restarts
        out.append(RestartOnStall(window=r.window, min_fall=r.min_fall, target=r.target, max_restarts=r.max,
                                  seed=exp.model.seed + 1000))
    if t.early_stopping is not None and has_val:
        e = t.early_stopping
        out.append(EarlyStopping(e.monitor, min_delta=e.min_delta, patience=e.patience,
                                 restore_best_weights=e.restore_best))
    if t.diverge_factor:
        out.append(DivergenceGuard(t.diverge_factor))
    return out


def _check_data(data, parts, hints, objectives: list[str], heldout: str) -> None:
    if hints is not None:
        raise ConfigError("deepnets tune compares plain networks: remove [train.hints]")
    if heldout == "cv" and isinstance(data, SeriesData):
        raise ConfigError("k-fold CV resamples rows at random, mixing past and future rows of a time series: "
                          "use tune.heldout = \"blocked\" (forward chaining) or \"validation\" (a split by time)")
    if heldout == "validation" and parts.val is None:
        raise ConfigError("tune.heldout = \"validation\" needs a validation split: give data.split 3 parts, "
                          "or use tune.heldout = \"cv\"")
    if data.task == "classification" and any(n in ("val_rmse", "val_r2") for n in objectives):
        raise ConfigError(f"{data.name} is a classification task: val_rmse and val_r2 are for regression")
    if data.task == "regression" and "val_accuracy" in objectives:
        raise ConfigError(f"{data.name} is a regression task: val_accuracy is for classification")


def check_data(exp, objectives: list[str], heldout: str) -> None:
    """ConfigError, before a study exists, when the experiment's data cannot give the objectives
    (a task's metric on another task, no validation split, k-fold CV on a series, hints)."""
    data, parts, _, hints = prepare(exp)
    _check_data(data, parts, hints, objectives, heldout)


def train_trial(exp, objectives: list[str], *, heldout: str = "validation", folds: int = 5,
                trial=None) -> tuple[list[float], bool]:
    """Train ``exp`` once (or once per fold) and return ``(values of objectives, pruned)``.

    ``trial``: an Optuna trial to report to (single objective only); ``pruned`` is True when its
    pruner stopped training (the values are then those of the stopped network).
    """
    data, parts, scaler, hints = prepare(exp)
    _check_data(data, parts, hints, objectives, heldout)
    output = output_for(exp, data)
    n_out = data.n_classes if output == "logits" else data.n_outputs
    loss = loss_for(exp, data, output)
    train, val = scaled(scaler, parts.train), scaled(scaler, parts.val)
    units = TargetUnits.fit(train[1], exp.data.scale_target) if data.task == "regression" else None
    encode = (lambda p: p) if units is None else units.encode
    args = fit_arguments(exp, loss)
    metrics = ["accuracy"] if units is None else units.metrics()[:2]
    report = trial is not None and len(objectives) == 1 and objectives[0] != "n_weights"
    build = lambda: build_model(exp, data.x.shape[1], n_out, output)  # noqa: E731

    if heldout in ("cv", "blocked"):
        weights, fold_means = [], []
        reporter = TrialReporter(trial, "cv") if report else None

        def one_fold(tr, te):
            model = build()
            weights.append(n_weights(model))
            fit(model, encode(tr), callbacks=_callbacks(exp, False), **args)
            e = squared_errors(model.to("cpu"), *encode(te), coding=getattr(loss, "coding", "one_hot"))
            fold_means.append(float(e.mean()))
            if reporter is not None:
                trial.report(sum(fold_means) / len(fold_means), len(fold_means) - 1)
                if trial.should_prune():
                    reporter.pruned = True
                    raise _Pruned
            return e

        try:
            scheme = "kfold" if heldout == "cv" else "blocked"
            error = cross_validate(one_fold, train, folds, seed=exp.data.seed, scheme=scheme).error
        except _Pruned:
            return [sum(fold_means) / len(fold_means) if n == "cv_error" else weights[0] for n in objectives], True
        return [error if n == "cv_error" else weights[0] for n in objectives], False

    model = build()
    reporter = TrialReporter(trial, objectives[0]) if report else None
    callbacks = _callbacks(exp, True) + ([reporter] if reporter is not None else [])
    fit(model, encode(train), validation=encode(val), metrics=metrics, callbacks=callbacks, **args)
    with torch.no_grad():
        scores = {f"val_{k}": float(v) for k, v in split_metrics(model.to("cpu"), val, loss, data, units).items()}
    scores["n_weights"] = n_weights(model)
    return [scores[n] for n in objectives], bool(reporter is not None and reporter.pruned)


class _Pruned(Exception):
    """Raised inside a fold to leave cross-validation when the pruner stops the trial."""
