"""Run an experiment end to end: load, split, scale, build, train, test, write the run folder.

:func:`fit_arguments` and :func:`callbacks_for` are the one place where ``[train]`` becomes the
arguments and callbacks of :func:`~deepnets.train.loop.fit`.
"""

from __future__ import annotations

import inspect
import os
import time

import torch

from .._registry import lookup
from ..backprop import costates
from ..config import Experiment, experiment_from_file, experiment_to_dict  # experiment_from_file: re-exported
from ..errors import CheckpointError, ConfigError
from ..nn.mlp import MLP
from ..optim import OPTIMIZERS
from ..regularizers import build_regularizer
from ..train.callbacks import (Checkpointer, EarlyStopping, GracefulStop, JsonLinesLogger, ProgressBar,
                               RestartOnStall)
from ..train.checkpoint import CheckpointManager
from ..train.distributed import barrier, broadcast_object, init_from_env
from ..train.loop import fit
from .build import build_model, loss_for, output_for
from .folder import RunResult, make_run_dir, read_experiment, rewind_metrics, write_config, write_run
from .forecast import series_summary
from .inspect import split_metrics
from .prepare import hinted, prepare, scaled
from .starts import run_starts


def fit_arguments(exp: Experiment, loss) -> dict:
    """The keyword arguments of :func:`~deepnets.train.loop.fit` that ``[train]`` sets: the cost,
    the optimizer and its options, the schedule of epochs and batches, noise, the penalty, the
    per-layer rates, the seed and the device (not the data, metrics, callbacks or resume)."""
    t, o, d = exp.train, exp.train.optimizer, exp.train.device
    options = dict(o.options)
    if o.momentum:
        options["momentum"] = o.momentum
    if o.weight_decay:
        options["weight_decay"] = o.weight_decay
    signature = inspect.signature(lookup(o.name, OPTIMIZERS, what="optimizer"))
    try:  # a mistake in the options is reported before the run folder is made
        signature.bind(None, **options)
    except TypeError as e:
        raise ConfigError(f"train.optimizer {o.name!r}: {e}") from None
    penalty = None if t.penalty is None else build_regularizer(t.penalty.name, **t.penalty.options)
    takes_lr = "lr" in signature.parameters
    return dict(loss=loss, optimizer=o.name, lr=o.lr if takes_lr else None, optimizer_options=options,
                layer_lr=o.layer_lr or None, epochs=t.epochs, batch_size=t.batch_size or None, shuffle=t.shuffle,
                input_noise=t.input_noise, penalty=penalty, seed=t.seed,
                device=d.name or None, precision=d.precision, channels_last=d.channels_last, compile=d.compile)


def callbacks_for(exp: Experiment, path: str, *, resolved: dict, validation, n_train: int, manager=None,
                  checkpoint=None, progress_file=None, main_rank: bool = True) -> list:
    """The callbacks ``[train]`` and ``[run]`` switch on, in the order fit calls them: graceful
    stop, restarts, early stopping, the metrics log (after the callbacks that add to the epoch's
    logs: each line holds what the history records, which a resume rewrites the log from), the
    progress bar, the checkpointer (always:
    an interrupted run saves where it stopped even with no periodic saves; with ``checkpoint``
    it resumes the run from there). Logs, run files and checkpoints come from rank 0 alone; every
    rank resumes."""
    t = exp.train
    callbacks = [GracefulStop()]
    if t.restarts is not None:
        r = t.restarts
        callbacks.append(RestartOnStall(window=r.window, min_fall=r.min_fall, target=r.target, max_restarts=r.max,
                                        seed=exp.model.seed + 1000))
    if t.early_stopping is not None:
        e = t.early_stopping
        if validation is None:
            raise ConfigError("[train.early_stopping] needs a validation split (data.split with 3 parts)")
        callbacks.append(EarlyStopping(e.monitor, min_delta=e.min_delta, patience=e.patience,
                                       restore_best_weights=e.restore_best))
    if main_rank:
        callbacks.append(JsonLinesLogger(os.path.join(path, "metrics.jsonl")))
    if exp.run.progress and t.epochs > 0 and main_rank:
        callbacks.append(ProgressBar(t.epochs, file=progress_file, samples_per_epoch=n_train))
    if t.epochs > 0:
        c = t.checkpoint
        callbacks.append(Checkpointer(manager or CheckpointManager(path, keep=max(1, c.keep)),
                                      every_steps=c.every_steps, every_epochs=c.every_epochs, config=resolved,
                                      resume=checkpoint or False))
    return callbacks


def _costate_norms(model, x, y, loss) -> list[float]:
    _, deltas = costates(model, x, y, loss)
    return [float(d.norm(dim=1).mean()) for d in deltas]


def run_experiment(exp: Experiment, *, source: str = "experiment", progress_file=None,
                   resume_path: str | None = None) -> RunResult:
    """Load, split, scale, build, train, test and write the run folder. Returns a :class:`RunResult`.

    Checkpoints go to ``RUN/checkpoints`` (``[train.checkpoint]``). On
    SIGTERM or SIGINT the running batch finishes, a checkpoint is written and
    :class:`~deepnets.errors.TrainingInterrupted` is raised. ``resume_path`` continues an existing
    run from its newest good checkpoint, exactly where it stopped. ``train.starts = k`` > 1 runs
    k starts (:func:`~deepnets.experiment.starts.run_starts`). torch's CPU thread count is set to
    ``train.device.threads`` for the run and put back afterwards.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, int(exp.train.device.threads)))
    try:
        _, world_size = init_from_env()
        if (resume_path is None and world_size > 1 and exp.run.name
                and int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0):
            # torchrun restarted the workers after a failure: continue the named run from its checkpoint
            candidate = os.path.join(exp.run.out, exp.run.name)
            if CheckpointManager(candidate).latest_good() is not None:
                resume_path = candidate
        if exp.train.starts != 1:  # k complete runs in RUN/start-s, the best copied up
            return run_starts(exp, _run_once, source=source, progress_file=progress_file, resume_path=resume_path)
        return _run_once(exp, source=source, progress_file=progress_file, resume_path=resume_path)
    finally:
        torch.set_num_threads(threads)


def _run_once(exp: Experiment, *, source: str, progress_file=None, resume_path: str | None = None) -> RunResult:
    rank, _ = init_from_env()
    main_rank = rank == 0
    data, parts, scaler, hints = prepare(exp)
    train, val, test = (scaled(scaler, p) for p in (parts.train, parts.val, parts.test))
    output = output_for(exp, data)
    n_outputs = data.n_classes if output == "logits" else data.n_outputs  # two logits for two classes
    model = build_model(exp, data.x.shape[1], n_outputs, output)
    loss = loss_for(exp, data, output)
    fit_model, fit_loss, fit_train = model, loss, train
    if hints is not None:  # training with hints: extra outputs that only training sees
        fit_model, fit_loss, fit_train = hinted(exp, model, loss, train, hints, n_outputs)
    arguments = fit_arguments(exp, fit_loss)
    resolved = experiment_to_dict(exp)
    resolved["model"]["output"] = output
    manager = checkpoint = None
    if resume_path is not None:
        path = os.fspath(resume_path)
        manager = CheckpointManager(path, keep=max(1, exp.train.checkpoint.keep))
        checkpoint = manager.load_latest()  # (falls back past any that does not verify or load)
        if checkpoint is None:
            raise CheckpointError(f"{path}: no checkpoint to resume from (RUN/checkpoints is empty)")
        if main_rank:
            rewind_metrics(path, checkpoint)
    else:
        path = broadcast_object(make_run_dir(exp, source) if main_rank else None)
        if main_rank:
            write_config(path, resolved)
    callbacks = callbacks_for(exp, path, resolved=resolved, validation=val, n_train=len(train[0]), manager=manager,
                              checkpoint=checkpoint, progress_file=progress_file, main_rank=main_rank)
    metrics = ["accuracy"] if data.task == "classification" else ["rmse"]
    probe = (train[0][:512], train[1][:512])
    norms = {}
    if exp.run.costates:
        if not isinstance(model, MLP):
            raise ConfigError("run.costates needs an MLP model")
        norms["initial weights"] = _costate_norms(model, *probe, loss)
    start = time.perf_counter()
    history = fit(fit_model, fit_train, validation=val, metrics=metrics, callbacks=callbacks, **arguments)
    seconds = time.perf_counter() - start
    model.to("cpu")  # evaluation, plots and the saved weights work on the CPU copies of the splits
    if exp.run.costates:
        norms["trained weights"] = _costate_norms(model, *probe, loss)

    results = {name: split_metrics(model, pair, loss, data)
               for name, pair in (("train", train), ("val", val), ("test", test)) if pair is not None}
    restarts = next((c.restarts for c in callbacks if isinstance(c, RestartOnStall)), 0)
    summary = {
        "dataset": data.name, "task": data.task, "n_classes": data.n_classes,
        "feature_names": data.feature_names, "target_names": data.target_names,
        "sizes": getattr(model, "sizes", None), "n_outputs": n_outputs, "output": output, "loss": repr(loss),
        "n_weights": sum(p.numel() for p in model.parameters()),
        "n_train": len(train[0]), "n_val": 0 if val is None else len(val[0]),
        "n_test": 0 if test is None else len(test[0]),
        "epochs_run": len(history.epoch), "restarts": restarts, "train_seconds": round(seconds, 3),
        "metrics": results, "costate_norms": norms,
    }
    summary.update(series_summary(exp, data, scaler, model))  # series: forecasts beside the AR(p) baseline
    result = RunResult(path, results.get("test", results["train"]), history.history, model, summary)
    if not main_rank:
        barrier()  # wait for rank 0's files, so that all ranks leave together
        return result
    write_run(path, exp, data, model, scaler, loss, history.history, summary, test)
    barrier()
    return result


def resume_run(path, *, progress_file=None) -> RunResult:
    """Continue the run in folder ``path`` from its newest good checkpoint (same config, same split)."""
    return run_experiment(read_experiment(path), source=os.fspath(path), progress_file=progress_file,
                          resume_path=os.fspath(path))


__all__ = ["run_experiment", "resume_run", "fit_arguments", "callbacks_for", "RunResult"]
