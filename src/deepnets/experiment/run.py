"""Run an experiment end to end: load, split, scale, build, train, test, write the run folder.

:func:`fit_arguments` and :func:`callbacks_for` are the one place where ``[train]`` becomes the
arguments and callbacks of :func:`~deepnets.train.loop.fit`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import os
import sys
import time
import warnings

import torch

from .._registry import lookup
from ..backprop import costates
from ..config import Experiment, experiment_from_file, experiment_to_dict  # experiment_from_file: re-exported
from ..atomic import FileWriteError
from ..data.limits import override
from ..errors import CheckpointError, ConfigError, TrainingDiverged, TrainingInterrupted
from ..optim import OPTIMIZERS
from ..regularizers import AdaptiveLambda, build_regularizer
from ..train.callbacks import (Checkpointer, DivergenceGuard, EarlyStopping, GracefulStop, JsonLinesLogger,
                               ProgressBar, RestartOnStall)
from ..train.callbacks.checkpointer import check_world_size
from ..train.checkpoint import CheckpointManager
from ..train.distributed import barrier, broadcast_object, init_from_env
from ..train.loop import FewExamplesWarning, fit
from ..data.labels import describe_target
from .adversarial_run import adversarial_cost, adversarial_summary
from .semisupervised_run import semisupervised_training
from .pretrain_run import pretrain_model, read_record, write_record
from .elm_run import elm_summary, solve_elm
from .transfer_run import apply_freeze, check_transfer, initialise_from
from .build import build_model, loss_for, output_for
from .checks import check_fit_arguments, check_run
from .failure import holdings, unwritten
from .folder import (RunResult, finished_run, make_run_dir, read_experiment, rewind_metrics, write_config,
                     write_run)
from .forecast import series_summary
from .inspect import split_metrics
from .lock import RunLock
from .signals import StoppedAfterTraining, held_signals
from .prepare import hinted, prepare, scaled
from .provenance import check_data, record_data, with_absolute_path
from .starts import run_starts
from .targets import TargetUnits


#: the keys of [train.penalty] that only the adaptive rule reads
ADAPTIVE_KEYS = ("target_error", "delta_lambda", "cut", "average")


def penalty_for(p):
    """The penalty ``[train.penalty]`` asks for (None when the table is absent); with
    ``adaptive = true``, wrapped in :class:`~deepnets.regularizers.AdaptiveLambda` with the
    table's settings. ConfigError naming the key: an adaptive setting without ``adaptive``, or
    a setting out of range."""
    if p is None:
        return None
    penalty = build_regularizer(p.name, **p.options)
    if not p.adaptive:
        default = type(p)()
        changed = [k for k in ADAPTIVE_KEYS if getattr(p, k) != getattr(default, k)]
        if changed:
            raise ConfigError(f"train.penalty.{changed[0]} is set but train.penalty.adaptive is false: "
                              f"set adaptive = true or remove it")
        return penalty
    try:
        return AdaptiveLambda(penalty, **{k: getattr(p, k) for k in ADAPTIVE_KEYS})
    except ConfigError as e:
        raise ConfigError(f"train.penalty (adaptive): {e}") from None


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
    penalty = penalty_for(t.penalty)
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
    if main_rank:  # after restarts and early stopping: its lines hold what the history records
        callbacks.append(JsonLinesLogger(os.path.join(path, "metrics.jsonl")))
    if t.diverge_factor:  # a loss that explodes by orders of magnitude is divergence too (logged first)
        callbacks.append(DivergenceGuard(t.diverge_factor))
    if exp.run.progress and t.epochs > 0 and main_rank:
        callbacks.append(ProgressBar(t.epochs, file=progress_file, samples_per_epoch=n_train))
    if t.epochs > 0:
        c = t.checkpoint
        callbacks.append(Checkpointer(manager or CheckpointManager(path, keep=max(1, c.keep)),
                                      every_steps=c.every_steps, every_epochs=c.every_epochs, config=resolved,
                                      resume=checkpoint or False, background=c.background,
                                      share=c.share))
    return callbacks


def _costate_norms(model, x, y, loss) -> list[float]:
    _, deltas = costates(model, x, y, loss)
    return [float(d.norm(dim=1).mean()) for d in deltas]


def run_experiment(exp: Experiment, *, source: str = "experiment", progress_file=None,
                   resume_path: str | None = None, announce=None) -> RunResult:
    """Load, split, scale, build, train, test and write the run folder. Returns a :class:`RunResult`.

    Checkpoints go to ``RUN/checkpoints`` (``[train.checkpoint]``). On
    SIGTERM or SIGINT the running batch finishes, a checkpoint is written and
    :class:`~deepnets.errors.TrainingInterrupted` is raised. ``resume_path`` continues an existing
    run from its newest good checkpoint, exactly where it stopped. ``train.starts = k`` > 1 runs
    k starts (:func:`~deepnets.experiment.starts.run_starts`). torch's CPU thread count is set to
    ``train.device.threads`` for the run and put back afterwards. ``announce(line)``, if given,
    receives a line on the target before training (the task, the classes and their counts).
    A data file's path is made absolute and its SHA-256 kept in ``RUN/data.json``; resuming on a
    changed file is refused.
    """
    exp = with_absolute_path(exp)
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, int(exp.train.device.threads)))
    limits = override(**exp.data.limits)  # the run's caps for every file it reads, its checkpoints too
    limits.__enter__()
    try:
        _, world_size = init_from_env()
        if (resume_path is None and world_size > 1 and exp.run.name
                and int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0):
            # torchrun restarted the workers after a failure: continue the named run from its checkpoint
            candidate = os.path.join(exp.run.out, exp.run.name)
            if CheckpointManager(candidate).latest_good() is not None:
                resume_path = candidate
        if exp.train.starts != 1:  # k complete runs in RUN/start-s, the best copied up
            once = _Once(announce)
            return run_starts(exp, functools.partial(_run_once, announce=once), source=source,
                              progress_file=progress_file, resume_path=resume_path)
        return _run_once(exp, source=source, progress_file=progress_file, resume_path=resume_path, announce=announce)
    finally:
        limits.__exit__(None, None, None)
        torch.set_num_threads(threads)


class _Once:
    """An announce callable that passes on its first line only (a multi-start run's starts share data)."""

    def __init__(self, announce):
        self.announce, self.done = announce, False

    def __call__(self, line: str) -> None:
        if self.announce is not None and not self.done:
            self.done = True
            self.announce(line)


def _run_once(exp: Experiment, *, source: str, progress_file=None, resume_path: str | None = None,
              announce=None) -> RunResult:
    rank, _ = init_from_env()
    main_rank = rank == 0
    if resume_path is not None:
        check_data(resume_path, resume=True)
    data, parts, scaler, hints = prepare(exp)
    if announce is not None and main_rank:
        announce(describe_target(data))
    units = TargetUnits.fit(parts.train[1], exp.data.scale_target) if data.task == "regression" else None
    train, val, test = (scaled(scaler, p) for p in (parts.train, parts.val, parts.test))
    fit_train, fit_val = (train, val) if units is None else (units.encode(train), units.encode(val))
    output = output_for(exp, data)
    n_outputs = data.n_classes if output == "logits" else data.n_outputs  # two logits for two classes
    model = build_model(exp, data.x.shape[1], n_outputs, output)
    check_transfer(exp)
    # parts copied from another run; a resumed run's weights come from its checkpoint (the source may be gone)
    transfer = initialise_from(exp, model, copy=resume_path is None)
    transfer.update(apply_freeze(exp, model))
    loss = loss_for(exp, data, output)
    fit_model, fit_loss = model, loss
    if hints is not None:  # training with hints: extra outputs that only training sees
        fit_model, fit_loss, fit_train = hinted(exp, model, loss, fit_train, hints, n_outputs)
    if exp.train.adversarial is not None:  # a mix of clean and attacked inputs (a batch loss)
        fit_loss = adversarial_cost(exp, loss, fit_train)
    fit_data, counts = fit_train, {}
    if exp.data.labelled_fraction != 1 or exp.train.pairs is not None:  # fewer labels, the rest as pairs or left out
        fit_data, fit_loss, counts = semisupervised_training(exp, fit_loss, fit_train)
    arguments = fit_arguments(exp, fit_loss)
    check_fit_arguments(fit_model, arguments)  # a mistake in [train] leaves no run folder behind
    resolved = experiment_to_dict(exp)
    resolved["model"]["output"] = output
    if transfer.get("init_from"):  # absolute: the run folder's config resumes from any working folder
        resolved["model"]["init_from"] = transfer["init_from"]
    check_run(exp, model, val)
    pretrained = {}
    if exp.pretrain is not None and resume_path is None:  # (a resumed run's weights come from its checkpoint)
        if announce is not None and main_rank:
            announce(f"pretraining the hidden layers ({exp.pretrain.kind}, {exp.pretrain.epochs} epochs a layer) "
                     f"on the unlabelled examples of source {exp.pretrain.source!r}")
        pretrained = pretrain_model(exp, model, data, scaler, train[0])
    with contextlib.ExitStack() as held:  # rank 0 holds the run folder's lock while it writes
        if resume_path is not None:
            path = os.fspath(resume_path)
            if main_rank:  # before the manager clears temps: they may be another writer's
                held.enter_context(RunLock(path))
            manager = CheckpointManager(path, keep=max(1, exp.train.checkpoint.keep))
            checkpoint = manager.load_latest_good()  # skips corrupt or refused ones to an older good one
            if checkpoint is None:
                raise CheckpointError(f"{path}: no checkpoint to resume from (RUN/checkpoints is empty)")
            check_world_size(checkpoint)  # before anything in the folder changes
            pretrained = read_record(path)
            if main_rank:
                rewind_metrics(path, checkpoint)
                print(f"resumed from {resume_point(checkpoint)} (checkpoint {checkpoint.get('name', '?')})",
                      file=progress_file or sys.stderr, flush=True)
        else:
            manager = checkpoint = path = None
            if main_rank:
                path = make_run_dir(exp, source)
                held.enter_context(RunLock(path))
                write_config(path, resolved)
                record_data(path, exp)
                write_record(path, pretrained)
            path = broadcast_object(path)
        callbacks = callbacks_for(exp, path, resolved=resolved, validation=fit_val, n_train=len(train[0]),
                                  manager=manager, checkpoint=checkpoint, progress_file=progress_file,
                                  main_rank=main_rank)
        metrics = ["accuracy"] if units is None else units.metrics()[:2]  # rmse in the target's units, R²
        if exp.train.adversarial is not None or exp.train.pairs is not None:
            metrics = []  # a batch loss logs its cost alone
        probe = (fit_train[0][:512], fit_train[1][:512])
        norms = {}
        if exp.run.costates:
            norms["initial weights"] = _costate_norms(model, *probe, loss)
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                if val is None and test is None:  # every example trains (XOR's truth table): no claim on new data
                    warnings.simplefilter("ignore", FewExamplesWarning)
                if exp.model.kind == "elm":  # solved in closed form: no epochs, the metrics log gets one line
                    history = solve_elm(exp, model, fit_data, fit_val, loss, metrics, callbacks)
                else:
                    history = fit(fit_model, fit_data, validation=fit_val, metrics=metrics, callbacks=callbacks,
                                  **arguments)
        except TrainingInterrupted as e:
            e.run = e.run or os.path.abspath(path)  # what --resume takes (a multi-start run names its parent)
            raise
        except FileWriteError as e:  # a full disk while training: the metrics log or a checkpoint
            raise e.amended(f"training stopped; {holdings(path)}") from None
        except TrainingDiverged as e:  # the weights in memory are not saved: say what the folder holds
            raise TrainingDiverged(f"{e}; nothing after the last checkpoint is saved: {holdings(path)}",
                                   e.history) from None
        seconds = time.perf_counter() - start
        stopped = held.enter_context(held_signals())  # from here a SIGTERM lets the run finish, then stops
        model.to("cpu")  # evaluation, plots and the saved weights work on the CPU copies of the splits
        if exp.run.costates:
            norms["trained weights"] = _costate_norms(model, *probe, loss)

        results = {name: split_metrics(model, pair, loss, data, units)
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
            "metrics": results, "costate_norms": norms, "classes": data.classes,
            "target": None if units is None else units.to_summary(),
        }
        predictor = model if units is None else units.predictor(model)  # outputs in the target's units
        summary.update(elm_summary(model))  # the λ an ELM's solve used
        summary.update(transfer)  # the run and parts copied, the frozen parameters
        summary.update(counts)  # labelled / unlabelled examples, when data.labelled_fraction < 1
        summary.update(pretrained)  # what [pretrain] did before training
        summary.update(adversarial_summary(fit_loss, model, test))  # test accuracy clean and attacked
        summary.update(series_summary(exp, data, scaler, predictor))  # series: forecasts beside the AR(p) baseline
        result = RunResult(path, results.get("test", results["train"]), history.history, predictor, summary)
        if not main_rank:
            barrier()  # wait for rank 0's files, so that all ranks leave together
            if stopped:
                raise StoppedAfterTraining(stopped[0], result)
            return result
        try:
            write_run(path, exp, data, model, scaler, loss, history.history, summary, test, predictor=predictor)
        except FileWriteError as e:  # a full disk: say what is kept, and rescue the trained model
            bare = dataclasses.replace(exp, run=dataclasses.replace(exp.run, plots=False))
            raise unwritten(e, path, summary, lambda folder: write_run(
                folder, bare, data, model, scaler, loss, history.history, summary, test, predictor=predictor),
                result) from None
        barrier()
        if stopped:
            raise StoppedAfterTraining(stopped[0], result)
        return result


def resume_point(checkpoint: dict) -> str:
    """``"epoch E, step S"`` of a loaded checkpoint: E the epoch (1-based) of its last step."""
    epoch, position, step = (checkpoint.get(k) or 0 for k in ("epoch", "position", "step"))
    return f"epoch {epoch + (1 if position else 0)}, step {step}"


def resume_run(path, *, progress_file=None, announce=None) -> RunResult:
    """Continue the run in folder ``path`` from its newest good checkpoint (same config, same split,
    the same data file: a changed one is refused).

    Raises :class:`~deepnets.errors.CheckpointError` when the run has finished (``summary.json``
    written): there is nothing left to continue, and training again from its last checkpoint
    would silently redo finished work."""
    finished = finished_run(path)
    if finished is not None:
        raise CheckpointError(f"{os.fspath(path)}: {finished}; nothing to resume")
    return run_experiment(read_experiment(path), source=os.fspath(path), progress_file=progress_file,
                          resume_path=os.fspath(path), announce=announce)


__all__ = ["run_experiment", "resume_run", "resume_point", "fit_arguments", "callbacks_for", "RunResult"]
