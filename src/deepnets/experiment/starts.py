"""Multi-start runs from an experiment: ``train.starts = k`` complete runs, the best one kept.

The error surface of a multilayer perceptron has many local minima; the lecture's remedy is to
train from several random starts and keep the best on validation. Each start s = 0..k−1 is a
whole run of its own in ``RUN/start-s`` (initial weights from ``model.seed + s``, everything else
as the experiment says: checkpoints, logs, early stopping, restarts), so an interrupted
multi-start run resumes start by start: finished starts are kept, the interrupted one continues
from its checkpoint, the rest run afresh. When all are done, the start with the least
validation loss is chosen, ``argmin_s E_val(W_s)``, and its weights, summary, metrics and plots
are copied into ``RUN`` itself, with the table of every start in ``RUN/summary.json``
(``"starts"``) and ``RUN/starts.json``; ``deepnets evaluate RUN`` and ``predict RUN`` then use
the chosen network.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from typing import Callable

from ..atomic import write_atomic
from ..config import Experiment, experiment_to_dict
from ..errors import ConfigError, TrainingInterrupted
from ..train.checkpoint import CheckpointManager
from ..train.distributed import init_from_env
from ..train.select import FewExamplesOnce
from .folder import RUN_FILES, RunResult, load_run, make_run_dir, write_config
from .targets import TargetUnits
from .lock import RunLock


def _start_experiment(exp: Experiment, parent: str, s: int) -> Experiment:
    """Start s: the experiment with initial weights from model.seed + s, written to parent/start-s."""
    return dataclasses.replace(
        exp, model=dataclasses.replace(exp.model, seed=exp.model.seed + s),
        train=dataclasses.replace(exp.train, starts=1),
        run=dataclasses.replace(exp.run, out=parent, name=f"start-{s}"))


def run_starts(exp: Experiment, run_one: Callable[..., RunResult], *, source: str, progress_file=None,
               resume_path: str | None = None) -> RunResult:
    """Run (or resume) the k starts of ``exp`` and keep the best; returns the chosen start's RunResult
    with ``path`` the multi-start folder. See the module docstring.

    ``run_one(exp, source=, progress_file=, resume_path=)`` runs one start into its own folder
    (:func:`~deepnets.experiment.run.run_experiment`'s single run).
    """
    k = exp.train.starts
    if not isinstance(k, int) or k < 1:
        raise ConfigError(f"train.starts must be a positive integer, got {k!r}")
    if len(exp.data.split) < 3 or not exp.data.split[1]:
        raise ConfigError(f"train.starts = {k} keeps the start with the least validation loss: data.split needs "
                          f"a validation part (three fractions), got {exp.data.split}")
    if init_from_env()[1] > 1:
        raise ConfigError("train.starts > 1 runs the starts one after another: run it without torchrun")
    if resume_path is None:
        parent = make_run_dir(exp, source)
        write_config(parent, experiment_to_dict(exp))
    else:
        parent = os.fspath(resume_path)
    with RunLock(parent):  # one writer per run folder (each start's folder is locked by its run too)
        return _run_all(exp, run_one, parent, progress_file)


def _run_all(exp: Experiment, run_one, parent: str, progress_file) -> RunResult:
    """The k starts of a locked multi-start folder, then the best copied up."""
    k = exp.train.starts
    rows, results, once = [], {}, FewExamplesOnce()
    for s in range(k):
        sub = _start_experiment(exp, parent, s)
        path = os.path.join(parent, f"start-{s}")
        if os.path.isfile(os.path.join(path, "summary.json")):      # finished before an interruption
            with open(os.path.join(path, "summary.json"), encoding="utf-8") as fh:
                summary = json.load(fh)
        else:
            resume = os.path.isdir(path) and CheckpointManager(path).latest_good() is not None
            if os.path.isdir(path) and not resume:  # stopped before its first checkpoint: nothing to keep
                shutil.rmtree(path)
            try:
                with once():  # the small-training-set warning once, not once per start
                    result = run_one(sub, source=path, progress_file=progress_file,
                                     resume_path=path if resume else None)
            except TrainingInterrupted as e:
                e.run = os.path.abspath(parent)  # --resume continues the multi-start run, start by start
                raise
            summary, results[s] = result.summary, result
        val = summary["metrics"].get("val", {}).get("loss", math.inf)
        rows.append({"start": s, "seed": sub.model.seed, "epochs_run": summary.get("epochs_run"),
                     "train_loss": summary["metrics"]["train"]["loss"],
                     "val_loss": val if math.isfinite(val) else math.inf,
                     **({"test_loss": summary["metrics"]["test"]["loss"]} if "test" in summary["metrics"] else {})})
    best = min(range(k), key=lambda i: rows[i]["val_loss"])
    chosen = os.path.join(parent, f"start-{best}")
    with open(os.path.join(chosen, "summary.json"), encoding="utf-8") as fh:
        summary = json.load(fh)
    summary.update(starts=rows, best_start=best, model_seed=rows[best]["seed"])
    for name in RUN_FILES:
        src = os.path.join(chosen, name)
        if os.path.isfile(src):
            with open(src, "rb") as fh:
                write_atomic(os.path.join(parent, name), fh.read())
    # the chosen start's own experiment (its seed), so that load_run rebuilds exactly its network
    with open(os.path.join(chosen, "config.toml"), "rb") as fh:
        write_atomic(os.path.join(parent, "config.toml"), fh.read())
    write_atomic(os.path.join(parent, "starts.json"), json.dumps(rows, indent=2).encode())
    write_atomic(os.path.join(parent, "summary.json"), json.dumps(summary, indent=2).encode())
    if best in results:
        r = results[best]
        return RunResult(parent, r.test, r.history, r.model, summary)
    _, _, model, _ = load_run(parent)  # (a CheckpointError naming the file if the weights are missing)
    units = TargetUnits.from_summary(summary)
    model = model if units is None else units.predictor(model)  # outputs in the target's units, as a run's
    return RunResult(parent, summary["metrics"].get("test", summary["metrics"]["train"]), {}, model, summary)
