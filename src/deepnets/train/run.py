"""Run an experiment end to end and keep everything it made in a run folder.

A run folder holds ``config.toml`` (the resolved experiment), ``metrics.jsonl`` (one line per
epoch), ``weights.safetensors`` (the model under ``model.`` and the input scaler under
``scaler.``), ``summary.json`` (test metrics, sizes, feature names, timing), and PNGs: the
learning curve, for classification the test confusion matrix, and optionally the per-layer
error-signal norms. ``evaluate_run`` and ``predict_run`` rebuild the model from the folder.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import os
import math
import time
from collections import OrderedDict
from dataclasses import dataclass

import torch

from .._registry import suggest
from ..atomic import write_atomic
from ..backprop import costates
from ..config import Experiment, dumps_toml, experiment_from_dict, experiment_to_dict, load_toml
from ..data import Dataset, Scaler, Splits, load_dataset, split
from ..data.files import read_csv_table
from ..data.series import SeriesData
from ..errors import CheckpointError, ConfigError, DataError
from ..losses import Lp, code_targets, get_loss
from ..nn.image import ToImage
from ..nn.mlp import MLP, xor_step_network
from ..optim import OPTIMIZERS
from .callbacks import Checkpointer, EarlyStopping, GracefulStop, JsonLinesLogger, ProgressBar, RestartOnStall
from .checkpoint import CheckpointManager
from .distributed import barrier, broadcast_object, init_from_env
from .forecast import predict_series, series_plot, series_summary, split_series
from .state_dict import load_state_dict_checked
from .loop import evaluate, fit
from .metrics import predicted_classes

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a finished run returns: its folder, test metrics and the training history."""

    path: str
    test: dict
    history: dict
    model: torch.nn.Module
    summary: dict


def _output_for(exp: Experiment, data: Dataset) -> str:
    kind = MODEL_KINDS.get(exp.model.kind)
    if kind is not None and kind[1] == "logits":
        if exp.model.output not in ("auto", "logits"):
            raise ConfigError(f"model.kind = {exp.model.kind!r} outputs logits: model.output must be 'auto' or "
                              f"'logits', got {exp.model.output!r}")
        if data.task != "classification":
            raise ConfigError(f"model.kind = {exp.model.kind!r} is a classifier, the dataset's task is {data.task!r}")
        return "logits"
    if exp.model.output != "auto":
        return exp.model.output
    if data.task == "classification":
        return "logistic" if data.n_outputs == 1 else "softmax"
    return "linear"


def _loss_for(exp: Experiment, data: Dataset, output: str):
    name, coding = exp.train.loss, exp.train.coding
    if output == "logits":  # softmax and cross-entropy in one stable step on the logits
        if name not in ("auto", "cross_entropy"):
            raise ConfigError(f"a model with logit outputs trains with train.loss = 'cross_entropy' (or 'auto'), "
                              f"got {name!r}")
        return torch.nn.CrossEntropyLoss()
    if name == "auto":
        name = "cross_entropy" if data.task == "classification" and output in ("softmax", "logistic") else "lms"
    if coding == "auto":
        coding = "pm1" if output.startswith("tanh") or output == "lecun_tanh" else "one_hot"
    if name == "cross_entropy":
        if data.task != "classification" or output not in ("softmax", "logistic"):
            raise ConfigError(f"train.loss = 'cross_entropy' needs a classification task and a softmax or logistic "
                              f"output, got task {data.task!r} and output {output!r}")
        return get_loss(name)
    if name == "lp":
        return Lp(exp.train.lp_R, coding=coding)
    return get_loss(name, coding=coding)


def _mlp(exp: Experiment, n_inputs: int, n_outputs: int, output: str, shape) -> torch.nn.Module:
    m = exp.model
    if shape is not None:
        raise ConfigError(f"model.kind = 'mlp' reads flat rows; leave data.shape empty, got {exp.data.shape}")
    if not all(isinstance(h, int) and h > 0 for h in m.hidden):
        raise ConfigError(f"model.hidden must list positive integers, got {m.hidden}")
    return MLP([n_inputs, *m.hidden, n_outputs], activation=m.activation, output=output, init=m.init, seed=m.seed)


def _xor_step(exp: Experiment, n_inputs: int, n_outputs: int, output: str, shape) -> torch.nn.Module:
    if (n_inputs, n_outputs) != (2, 1) or shape is not None:
        raise ConfigError(f"model.kind = 'xor_step' needs 2 flat inputs and 1 output (the xor dataset), "
                          f"got {n_inputs} and {n_outputs}")
    return xor_step_network(exp.model.variant)


def _builder_call(what: str, builder, *args, **options) -> torch.nn.Module:
    try:
        inspect.signature(builder).bind(*args, **options)
    except TypeError as e:
        raise ConfigError(f"model.options for {what}: {e}") from None
    return builder(*args, **options)


def _cnn1d(exp: Experiment, n_inputs: int, n_outputs: int, output: str, shape) -> torch.nn.Module:
    from ..nn.cnn1d import CNN1d

    C, L = (1, n_inputs) if shape is None else shape
    if shape is not None and len(shape) != 2:
        raise ConfigError(f"model.kind = 'cnn1d' reads sequences: data.shape must be [C, L], got {exp.data.shape}")
    return _builder_call("cnn1d", CNN1d, L, n_outputs, C, **exp.model.options)


def _recurrent(kind: str):
    def build(exp: Experiment, n_inputs: int, n_outputs: int, output: str, shape) -> torch.nn.Module:
        from ..nn.seq_classifier import sequence_classifier

        if shape is not None and len(shape) != 2:
            raise ConfigError(f"model.kind = {kind!r} reads sequences: data.shape must be [C, L], got {exp.data.shape}")
        C, L = (1, n_inputs) if shape is None else shape
        return _builder_call(kind, sequence_classifier, kind, L, n_outputs, C, **exp.model.options)

    return build


def _zoo(name: str):
    def build(exp: Experiment, n_inputs: int, n_outputs: int, output: str, shape) -> torch.nn.Module:
        from .. import zoo

        entry = zoo.ZOO[name]
        if shape is None or len(shape) != 3:
            raise ConfigError(f"model.kind = {name!r} reads images: set data.shape = [C, H, W] "
                              f"(and pad_to/resize_to to reach its {list(entry.input_shape[1:])}), "
                              f"got data.shape = {exp.data.shape}")
        return _builder_call(name, entry.builder, num_classes=n_outputs, in_channels=shape[0], **exp.model.options)

    return build


def _zoo_kinds() -> dict:
    from ..zoo import ZOO

    return {name: (_zoo(name), "logits") for name in ZOO}


#: model.kind -> (builder(exp, n_inputs, n_outputs, output, image shape or None), output):
#: "chosen" when model.output picks the output layer, "logits" for networks that end in a linear
#: layer (or LeNet-5's negated RBF penalties) read by softmax cross-entropy.
MODEL_KINDS = {"mlp": (_mlp, "chosen"), "xor_step": (_xor_step, "chosen"), "cnn1d": (_cnn1d, "logits"),
               **_zoo_kinds(),
               # many-to-one recurrent classifiers (nn.seq_classifier); model.options: hidden_size,
               # num_layers, bidirectional, readout, peepholes, forget_bias, reset_after, dropout
               **{kind: (_recurrent(kind), "logits") for kind in ("elman", "lstm", "gru")}}


def fit_options(exp: Experiment, loss) -> dict:
    """The keyword arguments of :func:`fit` that an experiment's ``[train]`` table sets (the
    optimizer, its options, the schedule of epochs and batches, noise and the penalty)."""
    t = exp.train
    options = dict(t.optimizer_options)
    if t.momentum:
        options["momentum"] = t.momentum
    if t.weight_decay:
        options["weight_decay"] = t.weight_decay
    penalty = None
    if t.penalty:
        from ..regularizers import build_regularizer

        penalty = build_regularizer(t.penalty, **t.penalty_options)
    takes_lr = t.optimizer in OPTIMIZERS and "lr" in inspect.signature(OPTIMIZERS[t.optimizer]).parameters
    return dict(loss=loss, optimizer=t.optimizer, lr=t.lr if takes_lr else None, epochs=t.epochs,
                batch_size=t.batch_size or None, shuffle=t.shuffle, optimizer_options=options,
                input_noise=t.input_noise, penalty=penalty)


def build_model(exp: Experiment, n_inputs: int, n_outputs: int, output: str) -> torch.nn.Module:
    """The network an experiment describes, for ``n_inputs`` features and ``n_outputs`` outputs.

    With ``data.shape`` set, a :class:`~deepnets.nn.image.ToImage` front views each flat row as a
    sequence or image (then resizes and pads it) and the network follows it in a Sequential.
    """
    kind = exp.model.kind
    if kind not in MODEL_KINDS:
        raise ConfigError(f"model.kind must be one of {sorted(MODEL_KINDS)}, got {kind!r}")
    d = exp.data
    front = None
    if d.shape:
        # the shifts draw from torch's global RNG, which fit seeds (train.seed) and checkpoints keep
        front = ToImage(d.shape, resize_to=d.resize_to, pad_to=d.pad_to, shift=d.shift)
    elif d.resize_to or d.pad_to or d.shift:
        raise ConfigError(f"data.resize_to / pad_to / shift need data.shape, got resize_to = {d.resize_to}, "
                          f"pad_to = {d.pad_to}, shift = {d.shift} and no shape")
    if front is not None and math.prod(front.shape) != n_inputs:
        raise ConfigError(f"data.shape {d.shape} holds {math.prod(front.shape)} values, the data has {n_inputs} features")
    builder = MODEL_KINDS[kind][0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(exp.model.seed)  # the zoo's and torch's own initialisations draw from here
        net = builder(exp, n_inputs, n_outputs, output, None if front is None else front.output_shape)
    if front is None:
        return net
    return torch.nn.Sequential(OrderedDict(image=front, net=net))


def _prepare(exp: Experiment):
    """``(data, parts, scaler, hints)``: the dataset (hint columns removed), its split, the input
    scaler fitted on the training part, and the hint columns' split (None without ``data.hints``)."""
    data = load_dataset(exp.data.name, **exp.data.params)
    hint_cols = _hint_columns(exp, data)
    if isinstance(data, SeriesData):  # contiguous time segments, never shuffled across the cut
        parts = split_series(exp, data)
    else:
        parts = split(data, exp.data.split, seed=exp.data.seed, stratify=exp.data.stratify)
    hints = None
    if hint_cols:  # split with the hints inside, so their rows stay matched; then take them out
        keep = [j for j in range(data.x.shape[1]) if j not in hint_cols]
        pick = lambda cols: Splits(*(None if p is None else (p[0][:, cols], p[1])  # noqa: E731
                                     for p in (parts.train, parts.val, parts.test)))
        parts, hints = pick(keep), pick(hint_cols)
        data = dataclasses.replace(data, x=data.x[:, keep], feature_names=[data.feature_names[j] for j in keep],
                                   test=None if data.test is None else (data.test[0][:, keep], data.test[1]))
    scaler = Scaler.fit(parts.train[0], exp.data.scale, exp.data.scale_range)
    return data, parts, scaler, hints


def _hint_columns(exp: Experiment, data: Dataset) -> list[int]:
    """The positions of ``data.hints`` among the dataset's feature columns (ConfigError naming a miss)."""
    names = [str(h) for h in exp.data.hints]
    if not names:
        return []
    if isinstance(data, SeriesData):
        raise ConfigError("data.hints takes feature columns of a table; a series dataset has none to spare")
    if len(set(names)) != len(names):
        raise ConfigError(f"data.hints names a column twice: {names}")
    missing = [h for h in names if h not in data.feature_names]
    if missing:
        raise ConfigError(f"data.hints: {missing[0]!r} is not a feature column of {data.name}"
                          f"{suggest(missing[0], data.feature_names)}; "
                          f"the columns are {data.feature_names[:20]}")
    if len(names) == len(data.feature_names):
        raise ConfigError(f"data.hints takes every feature column {names}: no inputs would be left")
    return [data.feature_names.index(h) for h in names]


def _hinted(exp: Experiment, model, loss, train, hints: Splits, n_outputs: int):
    """The model, cost and training pair that learn the hint columns beside the main task.

    The hint targets are the hint columns standardised on the training part; E = E_main +
    γ E_hint with LMS on the hints (γ = ``train.hint_weight``). The returned model shares the
    main network's weights, which is all that is saved.
    """
    from .hints import hint_targets, hinted_loss, with_hints

    if not isinstance(model, MLP) or len(model.sizes) < 3:
        raise ConfigError(f"data.hints needs model.kind = 'mlp' with a hidden layer, got {exp.model.kind!r}")
    h = hints.train[0]
    h = Scaler.fit(h, "standard")(h)  # (N, H) standardised hint targets
    y = train[1]
    if not y.is_floating_point():
        coding = getattr(loss, "coding", "one_hot")
        y = (loss.code(y, n_outputs) if hasattr(loss, "code") and not getattr(loss, "takes_labels", False)
             else code_targets(y, n_outputs, coding))
    hinted = with_hints(model, h.shape[1], seed=exp.model.seed + 1)
    return hinted, hinted_loss(loss, n_outputs, gamma=exp.train.hint_weight), (train[0], hint_targets(y, h))


def _scaled(scaler, pair):
    return None if pair is None else (scaler(pair[0]), pair[1])


def _test_metrics(model, pair, loss, data: Dataset) -> dict:
    metrics = ["accuracy"] if data.task == "classification" else ["rmse"]
    threshold = 0.0 if getattr(loss, "coding", None) == "pm1" else None
    return evaluate(model, *pair, loss=loss, metrics=metrics, threshold=threshold)


def _confusion(model, pair, n_classes: int, threshold: float) -> list[list[int]]:
    with torch.no_grad():
        pred = predicted_classes(model(pair[0]), threshold)
    C = max(n_classes, 2)
    counts = torch.zeros(C, C, dtype=torch.int64)
    counts.index_put_((pair[1].long(), pred), torch.ones_like(pred), accumulate=True)
    return counts.tolist()


def _run_dir(exp: Experiment, source: str) -> str:
    name = exp.run.name or f"{os.path.splitext(os.path.basename(source))[0] or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"
    path = os.path.join(exp.run.out, name)
    base, k = path, 1
    while os.path.exists(path):
        k += 1
        path = f"{base}-{k}"
    os.makedirs(path)
    return path


def _costate_norms(model, x, y, loss) -> list[float]:
    _, deltas = costates(model, x, y, loss)
    return [float(d.norm(dim=1).mean()) for d in deltas]


def run_experiment(exp: Experiment, *, source: str = "experiment", progress_file=None,
                   resume_path: str | None = None) -> RunResult:
    """Load, split, scale, build, train, test and write the run folder. Returns a :class:`RunResult`.

    Checkpoints go to ``RUN/checkpoints`` (``train.checkpoint_every_steps`` / ``_epochs``). On
    SIGTERM or SIGINT the running batch finishes, a checkpoint is written and
    :class:`~deepnets.errors.TrainingInterrupted` is raised. ``resume_path`` continues an existing
    run from its newest good checkpoint, exactly where it stopped.
    """
    torch.set_num_threads(max(1, int(exp.train.threads)))
    rank, world_size = init_from_env()
    main_rank = rank == 0
    if resume_path is None and world_size > 1 and exp.run.name and int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0:
        # torchrun restarted the workers after a failure: continue the named run from its checkpoint
        candidate = os.path.join(exp.run.out, exp.run.name)
        if CheckpointManager(candidate).latest_good() is not None:
            resume_path = candidate
    if exp.train.starts != 1:  # k complete runs in RUN/start-s, the best copied up
        from .starts import run_starts

        return run_starts(exp, source=source, progress_file=progress_file, resume_path=resume_path)
    data, parts, scaler, hints = _prepare(exp)
    train, val, test = (_scaled(scaler, p) for p in (parts.train, parts.val, parts.test))
    output = _output_for(exp, data)
    n_outputs = data.n_classes if output == "logits" else data.n_outputs  # two logits for two classes
    model = build_model(exp, data.x.shape[1], n_outputs, output)
    loss = _loss_for(exp, data, output)
    fit_model, fit_loss, fit_train = model, loss, train
    if hints is not None:  # training with hints: extra outputs that only training sees
        fit_model, fit_loss, fit_train = _hinted(exp, model, loss, train, hints, n_outputs)
    resolved = experiment_to_dict(exp)
    resolved["model"]["output"] = output
    t = exp.train
    manager = None
    checkpoint = None
    if resume_path is not None:
        path = os.fspath(resume_path)
        manager = CheckpointManager(path, keep=max(1, t.keep_checkpoints))
        info = manager.latest_good()
        if info is None:
            raise CheckpointError(f"{path}: no checkpoint to resume from (RUN/checkpoints is empty)")
        checkpoint = manager.load(info.name)
        # the metrics file restarts from the checkpoint's history: epochs logged after it are redone
        logged = checkpoint["extra"]["loop"]["history"]
        lines = [json.dumps({"epoch": e + 1, **{k: v[i] for k, v in logged["logs"].items()}})
                 for i, e in enumerate(logged["epoch"])]
        if main_rank:
            write_atomic(os.path.join(path, "metrics.jsonl"), "".join(line + "\n" for line in lines).encode())
    else:
        path = _run_dir(exp, source) if main_rank else None
        path = broadcast_object(path)
        if main_rank:
            write_atomic(os.path.join(path, "config.toml"), dumps_toml(resolved).encode())

    callbacks = [GracefulStop()]
    if main_rank:  # logs, run files and checkpoints come from rank 0 alone
        callbacks.append(JsonLinesLogger(os.path.join(path, "metrics.jsonl")))
    if t.restart_window > 0:
        callbacks.append(RestartOnStall(window=t.restart_window, min_fall=t.restart_min_fall,
                                        target=t.restart_target, max_restarts=t.max_restarts, seed=exp.model.seed + 1000))
    if t.patience > 0:
        if val is None:
            raise ConfigError("train.patience > 0 (early stopping) needs a validation split (data.split with 3 parts)")
        callbacks.append(EarlyStopping(t.monitor, min_delta=t.min_delta, patience=t.patience,
                                       restore_best_weights=t.restore_best))
    if exp.run.progress and t.epochs > 0 and main_rank:
        callbacks.append(ProgressBar(t.epochs, file=progress_file, samples_per_epoch=len(train[0])))
    if t.epochs > 0:  # always: an interrupted run saves where it stopped; every rank resumes, rank 0 saves
        callbacks.append(Checkpointer(manager or CheckpointManager(path, keep=max(1, t.keep_checkpoints)),
                                      every_steps=t.checkpoint_every_steps, every_epochs=t.checkpoint_every_epochs,
                                      config=resolved, resume=checkpoint or False))
    metrics = ["accuracy"] if data.task == "classification" else ["rmse"]
    probe = (train[0][:512], train[1][:512])
    norms = {}
    if exp.run.costates:
        if not isinstance(model, MLP):
            raise ConfigError("run.costates needs an MLP model")
        norms["initial weights"] = _costate_norms(model, *probe, loss)
    start = time.perf_counter()
    history = fit(fit_model, fit_train, validation=val, layer_lr=t.layer_lr or None, metrics=metrics,
                  callbacks=callbacks, seed=t.seed, device=t.device or None,
                  precision=t.precision, channels_last=t.channels_last, compile=t.compile,
                  **fit_options(exp, fit_loss))
    seconds = time.perf_counter() - start
    model.to("cpu")  # evaluation, plots and the saved weights work on the CPU copies of the splits
    if exp.run.costates:
        norms["trained weights"] = _costate_norms(model, *probe, loss)

    results = {"train": _test_metrics(model, train, loss, data)}
    if val is not None:
        results["val"] = _test_metrics(model, val, loss, data)
    if test is not None:
        results["test"] = _test_metrics(model, test, loss, data)
    state = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    state.update({f"scaler.{k}": v.contiguous() for k, v in scaler.state_dict().items()})
    from safetensors.torch import save as st_save

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
    if not main_rank:
        barrier()  # wait for rank 0's files, so that all ranks leave together
        return RunResult(path, results.get("test", results["train"]), history.history, model, summary)
    write_atomic(os.path.join(path, "weights.safetensors"), st_save(state))
    write_atomic(os.path.join(path, "summary.json"), json.dumps(summary, indent=2).encode())
    if exp.run.plots:
        from ..report import plots

        if history.history:
            plots.learning_curve(history.history, os.path.join(path, "learning_curve.png"), title=data.name)
        if data.task == "classification" and test is not None:
            thr = 0.0 if getattr(loss, "coding", None) == "pm1" else 0.5
            plots.confusion_matrix(_confusion(model, test, data.n_classes, thr), os.path.join(path, "confusion.png"),
                                   title=f"{data.name}: test confusion matrix")
        series_plot(exp, data, scaler, model, summary, os.path.join(path, "forecast.png"))  # series runs only
        if norms:
            plots.costate_norms(norms, os.path.join(path, "costates.png"), title=f"{data.name}: error signals per layer")
    barrier()
    return RunResult(path, results.get("test", results["train"]), history.history, model, summary)


def load_run(path):
    """``(experiment, summary, model, scaler)`` of a run folder, the weights loaded and checked."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = os.fspath(path)
    for f in ("config.toml", "summary.json", "weights.safetensors"):
        if not os.path.isfile(os.path.join(path, f)):
            raise CheckpointError(f"{path}: not a run folder (no {f})")
    exp = experiment_from_dict(load_toml(os.path.join(path, "config.toml")))
    try:
        with open(os.path.join(path, "summary.json"), encoding="utf-8") as fh:
            summary = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}/summary.json: not valid JSON ({e})") from None
    wpath = os.path.join(path, "weights.safetensors")
    try:
        state = load_file(wpath)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{wpath}: cannot read the weights ({e})") from None
    sizes = summary.get("sizes")
    n_in = len(summary["feature_names"])
    n_out = summary.get("n_outputs") or (sizes[-1] if sizes else 1)
    model = build_model(exp, n_in, n_out, summary["output"])
    scaler = Scaler(n_in)
    for prefix, module in (("model.", model), ("scaler.", scaler)):
        sub = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        load_state_dict_checked(module, sub, source=f"{wpath} ({prefix[:-1]})")
    model.eval()
    return exp, summary, model, scaler


def evaluate_run(path) -> dict:
    """Rebuild a run's data split from its seed and evaluate its model on train/val/test."""
    return reevaluate_run(path)[0]


def reevaluate_run(path) -> tuple[dict, dict | None]:
    """The metrics per split (as :func:`evaluate_run`) and, for a series run, its forecast report
    recomputed with the same time split and baseline as at training time (None otherwise);
    the folder and the data are loaded once for both."""
    exp, summary, model, scaler = load_run(path)
    data, parts, _, _ = _prepare(exp)
    loss = _loss_for(exp, data, summary["output"])
    out = {}
    for name, pair in (("train", parts.train), ("val", parts.val), ("test", parts.test)):
        if pair is not None:
            out[name] = _test_metrics(model, _scaled(scaler, pair), loss, data)
    return out, series_summary(exp, data, scaler, model).get("forecast")


def predict_run(path, csv_path) -> tuple[list[str], list[list]]:
    """Predict for the rows of a CSV that has the run's feature columns (by name, any order;
    other columns are ignored). Returns ``(header, rows)``: the class and its probabilities for
    classification, the predicted targets for regression; for a series run, the one-step
    forecasts of the CSV's series column and the forecasts past its end
    (:func:`~deepnets.train.forecast.predict_series`)."""
    exp, summary, model, scaler = load_run(path)
    if "forecast" in summary:  # a series run: forecasts from the series column, not from tap columns
        return predict_series(summary["forecast"], torch.nn.Sequential(scaler, model), csv_path)
    names = summary["feature_names"]
    _, table = read_csv_table(csv_path, columns=names)
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
    from ..bayes import evidence_ard, plot_relevance

    exp, summary, model, scaler = load_run(path)
    _, parts, _, _ = _prepare(exp)
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


def resume_run(path, *, progress_file=None) -> RunResult:
    """Continue the run in folder ``path`` from its newest good checkpoint (same config, same split)."""
    path = os.fspath(path)
    if not os.path.isfile(os.path.join(path, "config.toml")):
        raise CheckpointError(f"{path}: not a run folder (no config.toml)")
    exp = experiment_from_dict(load_toml(os.path.join(path, "config.toml")))
    return run_experiment(exp, source=path, progress_file=progress_file, resume_path=path)


def experiment_from_file(path, overrides=()) -> Experiment:
    """Read an experiment TOML (or none: defaults) and apply ``--set`` overrides."""
    from ..config import apply_overrides

    d = load_toml(path) if path else {}
    return experiment_from_dict(apply_overrides(d, overrides))


__all__ = ["run_experiment", "resume_run", "relevance_run", "load_run", "evaluate_run", "reevaluate_run", "predict_run",
           "experiment_from_file", "RunResult",
           "build_model"]
