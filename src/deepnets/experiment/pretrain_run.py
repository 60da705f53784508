"""``[pretrain]`` in a run: greedy layer-wise pretraining of the MLP's hidden layers on unlabelled
examples, before ``fit`` trains the whole network on the labels as usual (fine-tuning).

The unlabelled examples are, by ``pretrain.source``:

- ``"train"``: the training part's features, all of them, their labels unused (with
  ``data.labelled_fraction`` < 1 the net is then fine-tuned on the labelled share alone);
- ``"csv"``: the rows of a user's CSV at ``pretrain.path`` whose header names the data's feature
  columns (other columns are ignored), scaled by the scaler fitted on the training part.

Pretraining runs after every check and before the run folder is made; the folder records it in
``pretrain.json`` and in ``summary.json`` under ``"pretrain"`` (kind, layers, sizes, examples,
seconds, source, and for a CSV its absolute path and SHA-256). A resumed run takes its weights
from its checkpoint and does not pretrain again.
"""

from __future__ import annotations

import inspect

import json
import os

import torch

from .._registry import check_number, check_positive_int, lookup
from ..atomic import write_atomic
from ..config import Experiment
from ..data.files import read_csv_table
from ..errors import ConfigError
from ..nn.mlp import MLP
from ..train.pretrain import PRETRAINERS, check_pretrainer, pretrain_mlp
from ..zoo.autoencoder import NOISES
from .provenance import sha256_file

SOURCES = ("train", "csv")
RECORD = "pretrain.json"


def pretrain_options(exp: Experiment, model) -> dict:
    """The keyword arguments of :func:`~deepnets.train.pretrain.pretrain_mlp` that ``[pretrain]``
    asks for, every value checked (ConfigError naming the key) before anything trains."""
    p = exp.pretrain
    if not isinstance(model, MLP):
        raise ConfigError(f"[pretrain] pretrains the hidden layers of an MLP: model.kind = 'mlp' expected, "
                          f"got {exp.model.kind!r}")
    n_hidden = len(model.sizes) - 2
    if n_hidden < 1:
        raise ConfigError("[pretrain] needs a hidden layer: model.hidden is empty")
    if isinstance(p.layers, bool) or not 0 <= p.layers <= n_hidden:
        raise ConfigError(f"pretrain.layers must be from 1 to the {n_hidden} hidden layer(s) of model.hidden "
                          f"(0: all), got {p.layers}")
    lookup(p.kind, PRETRAINERS, what="pretrain.kind")
    check_positive_int("pretrain.epochs", p.epochs)
    check_positive_int("pretrain.batch_size", p.batch_size)
    check_number("pretrain.lr", p.lr, low=0.0)
    if p.noise not in NOISES:
        raise ConfigError(f"pretrain.noise must be one of {list(NOISES)}, got {p.noise!r}")
    check_number("pretrain.noise_level", p.noise_level, low=0.0, high=1.0 if p.noise == "mask" else None)
    if p.source not in SOURCES:
        raise ConfigError(f"pretrain.source must be one of {list(SOURCES)}, got {p.source!r}")
    if (p.source == "csv") != bool(p.path):
        raise ConfigError("pretrain.path names the CSV of pretrain.source = 'csv' (and only then): "
                          f"got source {p.source!r} and path {p.path!r}")
    options = dict(p.options)
    clash = sorted(set(options) & {"epochs", "lr", "batch_size", "noise", "noise_level", "seed", "activation"})
    if clash:
        raise ConfigError(f"pretrain.options.{clash[0]} is a key of [pretrain] itself: set pretrain.{clash[0]}")
    options.update(epochs=p.epochs, lr=p.lr or default_lr(p.kind), batch_size=p.batch_size)
    if p.noise != "none":  # a kind without corruption (an RBM) then says it takes no noise
        options.update(noise=p.noise, noise_level=p.noise_level)
    check_pretrainer(p.kind, activation=None, seed=0, **options)
    return dict(kind=p.kind, layers=p.layers or n_hidden, seed=exp.model.seed, **options)


#: pretrain.lr = 0 takes the kind's own rate: Adam's η for an autoencoder, the PCD step for an RBM
KIND_LR = {"autoencoder": 0.005, "rbm": 0.1}


def default_lr(kind: str) -> float:
    """The learning rate ``pretrain.lr = 0`` stands for: :data:`KIND_LR`, else the trainer's own default."""
    if kind in KIND_LR:
        return KIND_LR[kind]
    return inspect.signature(PRETRAINERS[kind]).parameters["lr"].default


def unlabelled_examples(exp: Experiment, data, scaler, train_x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """``(x, record)``: the scaled unlabelled examples ``pretrain.source`` names and where they came from."""
    p = exp.pretrain
    if p.source == "train":
        return train_x, {"source": "train"}
    path = os.path.abspath(p.path)
    _, rows = read_csv_table(path, columns=list(data.feature_names))
    x = scaler(torch.as_tensor(rows, dtype=train_x.dtype))
    return x, {"source": "csv", "path": path, "sha256": sha256_file(path)}


def pretrain_model(exp: Experiment, model, data, scaler, train_x: torch.Tensor) -> dict:
    """Pretrain ``model``'s hidden layers as ``[pretrain]`` asks; ``{"pretrain": record}`` for the summary."""
    options = pretrain_options(exp, model)
    x, where = unlabelled_examples(exp, data, scaler, train_x)
    record = pretrain_mlp(model, x, **options)
    record.update(where, epochs=exp.pretrain.epochs, noise=exp.pretrain.noise)
    return {"pretrain": record}


def write_record(path: str, pretrained: dict) -> None:
    """``RUN/pretrain.json``: what pretraining did (nothing is written for a run without it)."""
    if pretrained:
        write_atomic(os.path.join(path, RECORD), json.dumps(pretrained["pretrain"], indent=2).encode(),
                     what="pretraining record")


def read_record(path: str) -> dict:
    """The ``{"pretrain": record}`` a resumed run's folder holds, or {}."""
    file = os.path.join(path, RECORD)
    if not os.path.isfile(file):
        return {}
    with open(file, encoding="utf-8") as fh:
        return {"pretrain": json.load(fh)}


__all__ = ["SOURCES", "pretrain_options", "unlabelled_examples", "pretrain_model", "write_record", "read_record"]
