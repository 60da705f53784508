"""The network an experiment describes (``[model]``) and the cost it is trained with.

``MODEL_KINDS`` maps ``model.kind`` to a builder and to how the network's outputs are read:
"chosen" when ``model.output`` picks the output layer (MLPs), "logits" for networks that end in
a linear layer read by softmax cross-entropy (CNNs, recurrent classifiers, the zoo), "linear" for
outputs fitted by least squares (the ELM, solved in closed form by :mod:`.elm_run`).
"""

from __future__ import annotations

import inspect
import math
import os
from collections import OrderedDict

import torch

from .. import zoo
from .elm_run import build_elm
from ..config import Experiment
from ..data import Dataset
from ..errors import ConfigError
from ..losses import Lp, get_loss
from ..nn.image import ToImage
from ..nn.mlp import MLP, xor_step_network
from ..zoo.cnn1d import CNN1d
from ..zoo.seq_classifier import sequence_classifier


def _mlp(exp: Experiment, n_inputs: int, n_outputs: int, output: str, shape) -> torch.nn.Module:
    m = exp.model
    if shape is not None:
        raise ConfigError(f"model.kind = 'mlp' reads flat rows; leave out [data.view], got data.view.shape = "
                          f"{exp.data.view.shape}")
    if not all(isinstance(h, int) and h > 0 for h in m.hidden):
        raise ConfigError(f"model.hidden must list positive integers, got {m.hidden}")
    _check_fits_in_memory([n_inputs, *m.hidden, n_outputs])
    return MLP([n_inputs, *m.hidden, n_outputs], activation=m.activation, output=output, init=m.init, seed=m.seed,
               dropout=m.dropout)


def _physical_memory() -> int | None:
    """This machine's memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def _check_fits_in_memory(sizes: list[int]) -> None:
    """ConfigError, before anything is allocated, for an MLP whose training could not fit in this
    machine's memory: its weights, their gradients and two optimizer states (Adam's), float32."""
    n = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    need, have = 4 * 4 * n, _physical_memory()
    if have is not None and need > have:
        raise ConfigError(f"model.hidden = {sizes[1:-1]} makes an MLP of {n:,} weights: {need / 2**30:,.0f} GiB to "
                          f"train (weights, gradients, optimizer state in float32), more than this machine's "
                          f"{have / 2**30:,.0f} GiB of memory; use fewer hidden units")


def _xor_step(exp: Experiment, n_inputs: int, n_outputs: int, output: str, shape) -> torch.nn.Module:
    if (n_inputs, n_outputs) != (2, 1) or shape is not None:
        raise ConfigError(f"model.kind = 'xor_step' needs 2 flat inputs and 1 output (the xor dataset), "
                          f"got {n_inputs} and {n_outputs}")
    return _builder_call("xor_step", xor_step_network, **exp.model.options)


def _builder_call(what: str, builder, *args, **options) -> torch.nn.Module:
    try:
        inspect.signature(builder).bind(*args, **options)
    except TypeError as e:
        raise ConfigError(f"model.options for {what}: {e}") from None
    return builder(*args, **options)


def _cnn1d(exp: Experiment, n_inputs: int, n_outputs: int, output: str, shape) -> torch.nn.Module:
    C, L = (1, n_inputs) if shape is None else shape
    if shape is not None and len(shape) != 2:
        raise ConfigError(f"model.kind = 'cnn1d' reads sequences: data.view.shape must be [C, L], got {exp.data.view.shape}")
    return _builder_call("cnn1d", CNN1d, L, n_outputs, C, **exp.model.options)


def _recurrent(kind: str):
    def build(exp: Experiment, n_inputs: int, n_outputs: int, output: str, shape) -> torch.nn.Module:
        if shape is not None and len(shape) != 2:
            raise ConfigError(f"model.kind = {kind!r} reads sequences: data.view.shape must be [C, L], got {exp.data.view.shape}")
        C, L = (1, n_inputs) if shape is None else shape
        return _builder_call(kind, sequence_classifier, kind, L, n_outputs, C, **exp.model.options)

    return build


def _zoo(name: str):
    def build(exp: Experiment, n_inputs: int, n_outputs: int, output: str, shape) -> torch.nn.Module:
        entry = zoo.ZOO[name]
        if shape is None or len(shape) != 3:
            raise ConfigError(f"model.kind = {name!r} reads images: set data.view.shape = [C, H, W] "
                              f"(and pad_to/resize_to to reach its {list(entry.input_shape[1:])}), "
                              f"got {'no [data.view]' if shape is None else f'data.view.shape = {exp.data.view.shape}'}")
        return _builder_call(name, entry.builder, num_classes=n_outputs, in_channels=shape[0], **exp.model.options)

    return build


#: model.kind -> (builder(exp, n_inputs, n_outputs, output, image shape or None), output):
#: "chosen" when model.output picks the output layer, "logits" for networks that end in a linear
#: layer (or LeNet-5's negated RBF penalties) read by softmax cross-entropy.
MODEL_KINDS = {"mlp": (_mlp, "chosen"), "xor_step": (_xor_step, "chosen"), "cnn1d": (_cnn1d, "logits"),
               "elm": (build_elm, "linear"),  # least squares on one-hot rows, solved (experiment.elm_run)
               **{name: (_zoo(name), "logits") for name in zoo.ZOO},
               # many-to-one recurrent classifiers (nn.seq_classifier); model.options: hidden_size,
               # num_layers, bidirectional, readout, peepholes, forget_bias, variant (LSTM gate ablations), reset_after, dropout
               **{kind: (_recurrent(kind), "logits") for kind in ("elman", "lstm", "gru")}}


def output_for(exp: Experiment, data: Dataset) -> str:
    """The output layer the model gets: ``model.output``, or for "auto" softmax/logistic on a
    classification task and linear otherwise; "logits" for the networks that end in logits."""
    kind = MODEL_KINDS.get(exp.model.kind)
    if kind is not None and kind[1] == "logits":
        if exp.model.output not in ("auto", "logits"):
            raise ConfigError(f"model.kind = {exp.model.kind!r} outputs logits: model.output must be 'auto' or "
                              f"'logits', got {exp.model.output!r}")
        if data.task != "classification":
            raise ConfigError(f"model.kind = {exp.model.kind!r} is a classifier, the dataset's task is {data.task!r}")
        return "logits"
    if kind is not None and kind[1] == "linear":
        if exp.model.output not in ("auto", "linear"):
            raise ConfigError(f"model.kind = {exp.model.kind!r} has linear outputs fitted by least squares: "
                              f"model.output must be 'auto' or 'linear', got {exp.model.output!r}")
        return "linear"
    if exp.model.output != "auto":
        return exp.model.output
    if data.task == "classification":
        return "logistic" if data.n_outputs == 1 else "softmax"
    return "linear"


def loss_for(exp: Experiment, data: Dataset, output: str):
    """The cost E the model trains with: ``[train.loss]`` resolved for the task and the output layer."""
    name, coding = exp.train.loss.name, exp.train.loss.coding
    if output == "logits":  # softmax and cross-entropy in one stable step on the logits
        if name not in ("auto", "cross_entropy"):
            raise ConfigError(f"a model with logit outputs trains with train.loss.name = 'cross_entropy' (or 'auto'), "
                              f"got {name!r}")
        return torch.nn.CrossEntropyLoss()
    if name == "auto":
        name = "cross_entropy" if data.task == "classification" and output in ("softmax", "logistic") else "lms"
    if coding == "auto":
        coding = "pm1" if output.startswith("tanh") or output == "lecun_tanh" else "one_hot"
    if name == "cross_entropy":
        if data.task != "classification" or output not in ("softmax", "logistic"):
            raise ConfigError(f"train.loss.name = 'cross_entropy' needs a classification task and a softmax or logistic "
                              f"output, got task {data.task!r} and output {output!r}")
        return get_loss(name)
    if name == "lp":
        return Lp(exp.train.loss.R, coding=coding)
    return get_loss(name, coding=coding)


def build_model(exp: Experiment, n_inputs: int, n_outputs: int, output: str) -> torch.nn.Module:
    """The network an experiment describes, for ``n_inputs`` features and ``n_outputs`` outputs.

    With ``[data.view]``, a :class:`~deepnets.nn.image.ToImage` front views each flat row as a
    sequence or image (then resizes and pads it) and the network follows it in a Sequential.
    """
    kind = exp.model.kind
    if kind not in MODEL_KINDS:
        raise ConfigError(f"model.kind must be one of {sorted(MODEL_KINDS)}, got {kind!r}")
    if kind != "mlp" and exp.model.dropout != 0:
        raise ConfigError(f"model.dropout is the MLP's (model.kind = 'mlp'); model.kind = {kind!r} takes its own "
                          f"dropout in model.options where it has one, got model.dropout = {exp.model.dropout!r}")
    v = exp.data.view
    front = None
    if v is not None:
        if not v.shape:
            raise ConfigError("[data.view] needs shape = [C, L] or [C, H, W]; leave the table out for flat rows")
        # the shifts draw from torch's global RNG, which fit seeds (train.seed) and checkpoints keep
        front = ToImage(v.shape, resize_to=v.resize_to, pad_to=v.pad_to, shift=v.shift)
        if math.prod(front.shape) != n_inputs:
            raise ConfigError(f"data.view.shape {v.shape} holds {math.prod(front.shape)} values, "
                              f"the data has {n_inputs} features")
    builder = MODEL_KINDS[kind][0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(exp.model.seed)  # the zoo's and torch's own initialisations draw from here
        net = builder(exp, n_inputs, n_outputs, output, None if front is None else front.output_shape)
    if front is None:
        return net
    return torch.nn.Sequential(OrderedDict(image=front, net=net))


__all__ = ["MODEL_KINDS", "build_model", "output_for", "loss_for"]
