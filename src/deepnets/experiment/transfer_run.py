"""Transfer learning from an experiment: a subset of the classes, weights copied from another run, frozen parts.

Features learned on one task are reused on another (Pratt 1993; Yosinski et al. 2014, "How
transferable are features in deep neural networks?", NeurIPS): the lower layers of a net trained
on a source task initialise the same layers of a new net, which then learns the target task,
those layers fixed or trained on.

- ``data.keep_classes = [5, 6, 7, 8, 9]``: only those classes of a classification dataset (by
  their labels), renumbered 0..k-1 in that order; the run's ``classes`` keep the labels, so
  ``predict`` prints 5..9. With ``data.labelled_fraction`` a target task gets few labels.
- ``model.init_from = "runs/source"`` and ``model.init_parts = ["layers.0"]``: before training,
  the parameters (and buffers) under those name prefixes are copied from that run folder's
  weights (checked against its checksum); a prefix the model lacks, one the source lacks, or a
  shape that differs is an error naming it. Inputs are scaled by this run's own scaler.
- ``train.freeze = ["layers.0"]``: those parts keep their values (:func:`deepnets.train.freeze`);
  ``train.optimizer.layer_lr`` sets the rates of the parts that train.
"""

from __future__ import annotations

import dataclasses
import os

import torch

from ..config import Experiment
from ..data import Dataset
from ..errors import ConfigError
from ..train.freeze import freeze
from .folder import load_run


def keep_classes(data: Dataset, wanted: list) -> Dataset:
    """The dataset restricted to the classes labelled ``wanted``, renumbered in that order."""
    if data.task != "classification":
        raise ConfigError(f"data.keep_classes picks classes of a classification dataset; {data.name} is {data.task}")
    labels = list(data.classes) if data.classes is not None else list(range(data.n_classes))
    missing = [w for w in wanted if w not in labels]
    if missing:
        raise ConfigError(f"data.keep_classes: {missing[0]!r} is not a class of {data.name}; its classes are {labels}")
    index = [labels.index(w) for w in wanted]
    if len(set(index)) != len(index) or len(index) < 2:
        raise ConfigError(f"data.keep_classes must name at least 2 different classes, got {list(wanted)}")
    remap = torch.full((data.n_classes,), -1, dtype=torch.int64)
    remap[index] = torch.arange(len(index))

    def pick(x, y):
        keep = remap[y] >= 0
        return x[keep], remap[y[keep]]

    x, y = pick(data.x, data.y)
    test = None if data.test is None else pick(*data.test)
    return dataclasses.replace(data, x=x, y=y, test=test, n_classes=len(index), classes=[labels[i] for i in index])


def check_transfer(exp: Experiment) -> None:
    """ConfigError for init keys that cannot work: parts without a source or a source without parts."""
    m = exp.model
    if m.init_parts and not m.init_from:
        raise ConfigError("model.init_parts names parts to copy: set model.init_from to the run folder they come from")
    if m.init_from and not m.init_parts:
        raise ConfigError(f"model.init_from = {m.init_from!r}: list the parts to copy in model.init_parts "
                          f"(e.g. [\"layers.0\"])")
    if m.init_from and exp.pretrain is not None:
        raise ConfigError("model.init_from and [pretrain] both set the hidden layers' starting weights: keep one "
                          "(--set pretrain=false switches pretraining off)")
    for key, parts in (("model.init_parts", m.init_parts), ("train.freeze", exp.train.freeze)):
        if not all(isinstance(p, str) and p for p in parts):
            raise ConfigError(f"{key} lists parts of the model by name prefix (\"layers.0\"), got {parts}")


def initialise_from(exp: Experiment, model: torch.nn.Module, *, copy: bool = True) -> dict:
    """Copy ``model.init_parts`` from the weights of the run ``model.init_from``; returns
    ``{"init_from": folder, "init_parts": [...], "copied": [names]}`` ({} without init_from), the
    folder absolute. ``copy=False`` (a resumed run, whose weights come from its checkpoint) copies
    nothing and reads nothing: the record names what the run's start copied."""
    m = exp.model
    if not m.init_from:
        return {}
    folder = os.path.abspath(m.init_from)
    if not copy:
        target = model.state_dict()
        copied = [k for prefix in m.init_parts for k in target
                  if k == prefix.rstrip(".") or k.startswith(prefix.rstrip(".") + ".")]
        return {"init_from": folder, "init_parts": list(m.init_parts), "copied": copied}
    if not os.path.isdir(folder):
        raise ConfigError(f"model.init_from: {m.init_from!r} is not a run folder (train the source run first)")
    source = load_run(folder)[2].state_dict()
    target = model.state_dict()
    copied = []
    for prefix in m.init_parts:
        stem = prefix.rstrip(".")
        names = [k for k in target if k == stem or k.startswith(stem + ".")]
        if not names:
            raise ConfigError(f"model.init_parts: this model has no part {prefix!r}; its parts are "
                              f"{sorted({k.rsplit('.', 1)[0] for k in target})[:12]}")
        for k in names:
            if k not in source:
                raise ConfigError(f"model.init_parts: the run {m.init_from} has no {k!r} to copy")
            if source[k].shape != target[k].shape:
                raise ConfigError(f"model.init_parts: {k} is {tuple(target[k].shape)} here and "
                                  f"{tuple(source[k].shape)} in the run {m.init_from}")
        copied += names
    with torch.no_grad():
        for k in copied:
            target[k].copy_(source[k])
    return {"init_from": folder, "init_parts": list(m.init_parts), "copied": copied}


def apply_freeze(exp: Experiment, model: torch.nn.Module) -> dict:
    """Freeze ``train.freeze``'s parts; returns ``{"frozen": [names]}`` ({} when none)."""
    if not exp.train.freeze:
        return {}
    try:
        return {"frozen": freeze(model, *exp.train.freeze)}
    except ConfigError as e:
        raise ConfigError(f"train.freeze: {e}") from None
