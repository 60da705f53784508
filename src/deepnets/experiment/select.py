"""Hidden-layer size selection for an experiment file: the ``deepnets select`` command's library half.

The experiment's data are loaded, split and scaled as ``deepnets train`` does; every hidden layer
of ``model.hidden`` is given width h in turn, each network is trained with the experiment's
``[train]`` settings (on the CPU), and :func:`~deepnets.train.select.select_hidden_size`
tabulates the training error 2E/N, the validation error (or the k-fold, or for a series the
blocked, cross-validation error) and PE = 2E/N + 2 N_W σ_e²/N. A regression network learns the
targets ``deepnets train`` would give it (standardised with ``data.scale_target``, the default),
so the errors are in those units and the report keeps the standard deviations that convert them.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

from ..atomic import write_atomic
from ..config import Experiment
from ..data.series import SeriesData
from ..errors import ConfigError
from ..report.selection import size_selection
from ..train.select import SizeRow, select_hidden_size
from .build import build_model, loss_for, output_for
from .prepare import prepare, scaled
from .run import fit_arguments
from .targets import TargetUnits

#: fit's arguments that place the training on a device: selection trains and scores on the CPU
_DEVICE_ARGUMENTS = ("device", "precision", "channels_last", "compile")

__all__ = ["select_experiment", "SelectionReport", "save_selection"]


@dataclass
class SelectionReport:
    """The table of :func:`select_experiment`: one row per size, σ_e², and how the held-out error was measured."""

    dataset: str
    rows: list[SizeRow]
    sigma2: float
    heldout: str
    n_train: int
    #: the targets' standard deviations on the training part where the network learnt standardised
    #: targets (``data.scale_target``, as ``deepnets train``): errors and σ_e² are in those units
    #: (× std² for the target's own); None for classification or raw targets
    target_std: list | None = None


def select_experiment(exp: Experiment, sizes, *, cv: int = 0, bootstrap: int = 0,
                      sigma2: float | None = None, blocked: bool = False) -> SelectionReport:
    """Train the experiment's network once per hidden-layer width in ``sizes`` and tabulate the errors.

    Args:
        exp: the experiment (its ``model.kind`` must be ``"mlp"``).
        sizes: the widths h; every hidden layer of ``model.hidden`` gets width h.
        cv: k >= 2 for k-fold cross-validation on the training split instead of the validation split.
        bootstrap: B >= 1 for the .632 bootstrap (B replicates) on the training split instead.
        sigma2: a known noise variance σ_e² (default: estimated from the largest network).
        blocked: with ``cv``, blocked (forward-chaining) cross-validation of a time series: the
            training segment cut into cv + 1 blocks in time order, fold j trained on the blocks
            before block j and tested on it (:func:`~deepnets.train.select.blocked_indices`).
    """
    if exp.model.kind != "mlp":
        raise ConfigError(f"deepnets select sizes the hidden layers of an MLP; model.kind is {exp.model.kind!r}")
    if exp.pretrain is not None:
        raise ConfigError("deepnets select compares networks from random weights: remove [pretrain] "
                          "(it is for deepnets train)")
    data, parts, scaler, hints = prepare(exp)
    if hints is not None:
        raise ConfigError("deepnets select compares plain networks: remove [train.hints] (hints are for deepnets train)")
    if cv >= 2 and bootstrap >= 1:
        raise ConfigError("choose one held-out estimate: --cv K or --bootstrap B, not both")
    if blocked and not (cv >= 2 and isinstance(data, SeriesData)):
        raise ConfigError("--blocked is blocked cross-validation of a time series: it needs --cv K (K >= 2)"
                          if cv < 2 else f"--blocked needs rows in time order: dataset {data.name!r} is not a "
                          f"series dataset (use --cv K alone for k-fold cross-validation)")
    if (cv >= 2 and not blocked or bootstrap >= 1) and isinstance(data, SeriesData):
        raise ConfigError("k-fold cross-validation and the bootstrap resample rows at random, which mixes past "
                          "and future rows of a time series: add --blocked to --cv K (forward chaining), or "
                          "drop --cv/--bootstrap to use the validation segment (a split by time)")
    train, val = scaled(scaler, parts.train), scaled(scaler, parts.val)
    units = TargetUnits.fit(train[1], exp.data.scale_target) if data.task == "regression" else None
    if units is not None:  # the targets the network learns in deepnets train: the same lr and penalty meaning
        train, val = units.encode(train), units.encode(val)
    resample = cv >= 2 or bootstrap >= 1
    if not resample and val is None:
        raise ConfigError("no validation split to measure the held-out error on: give data.split 3 parts, "
                          "or use --cv K for k-fold cross-validation or --bootstrap B")
    output = output_for(exp, data)
    loss = loss_for(exp, data, output)
    n_layers = max(1, len(exp.model.hidden))

    def build(h: int):
        model_cfg = dataclasses.replace(exp.model, hidden=[h] * n_layers)
        return build_model(dataclasses.replace(exp, model=model_cfg), data.x.shape[1], data.n_outputs, output)

    coding = getattr(loss, "coding", "one_hot")
    args = {k: v for k, v in fit_arguments(exp, loss).items() if k not in _DEVICE_ARGUMENTS}
    rows, s2 = select_hidden_size(build, train, sizes, validation=None if resample else val,
                                  cv=cv if cv >= 2 else 0, bootstrap=bootstrap if cv < 2 else 0,
                                  sigma2=sigma2, coding=coding, cv_scheme="blocked" if blocked else "kfold", **args)
    heldout = (f"{cv}-fold blocked CV" if blocked else f"{cv}-fold CV") if cv >= 2 else (f".632 bootstrap (B = {bootstrap})" if bootstrap >= 1 else "validation")
    std = None if units is None or units.scaler is None else units.scaler.std.tolist()
    return SelectionReport(data.name, rows, s2, heldout, len(train[0]), std)


def save_selection(rep: SelectionReport, out) -> None:
    """Write ``select.json`` (the table) and ``select.png`` (errors and PE against size) into ``out``."""
    os.makedirs(out, exist_ok=True)
    table = {"dataset": rep.dataset, "sigma2": rep.sigma2, "heldout": rep.heldout, "n_train": rep.n_train,
             "target_std": rep.target_std, "rows": [dataclasses.asdict(r) for r in rep.rows]}
    write_atomic(os.path.join(out, "select.json"), json.dumps(table, indent=2).encode())
    size_selection(rep.rows, os.path.join(out, "select.png"), heldout=rep.heldout, title=f"{rep.dataset}: network size")
