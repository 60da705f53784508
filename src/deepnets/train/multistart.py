"""Multi-start: train k networks from k explicit seeds and keep the one with the least validation error.

The error surface of a multilayer perceptron has many local minima and flat regions; the
lecture's advice is to restart from new random weights and keep the best start. Each start ``s``
builds its network with ``build_model(seed_s)`` and trains it with ``fit(..., seed=seed_s)``, so
every row of the table can be reproduced on its own.

>>> import torch
>>> from deepnets import MLP
>>> from deepnets.data import xor
>>> d = xor()
>>> res = multistart(lambda s: MLP([2, 2, 1], activation="tanh", output="logistic", seed=s), (d.x, d.y),
...                  (d.x, d.y), 3, loss="cross_entropy", optimizer="adam", lr=0.1, epochs=50, batch_size=None)
>>> [row["seed"] for row in res.table]
[0, 1, 2]
>>> res.best_seed == min(res.table, key=lambda r: r["val_loss"])["seed"]
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from .._registry import check_positive_int
from ..errors import ConfigError, TrainingDiverged
from .loop import evaluate, fit
from .select import FewExamplesOnce

__all__ = ["multistart", "MultiStartResult"]


@dataclass
class MultiStartResult:
    """The best start's trained model, its seed, and one row per start (seed, epochs, train_loss, val_loss)."""

    model: torch.nn.Module
    best_seed: int
    table: list[dict]


def multistart(build_model: Callable[[int], torch.nn.Module], train, validation, k: int, *,
               seeds: Sequence[int] | None = None, loss="lms", **fit_kwargs) -> MultiStartResult:
    """Train ``k`` starts and return the one whose validation loss E_val is least.

    best = argmin_s E_val(W_s), W_s = fit(build_model(s), train, seed=s).

    Args:
        build_model: ``build_model(seed) -> model``, fresh random weights for each seed.
        train: the training pair ``(x, y)``.
        validation: the pair ``(x, y)`` the starts are compared on.
        k: the number of starts (>= 1).
        seeds: the seeds, one per start (default ``0, 1, ..., k − 1``).
        loss: the cost trained and compared (as :func:`~deepnets.train.loop.fit`'s). Default "lms".
        **fit_kwargs: passed to :func:`~deepnets.train.loop.fit` (optimizer, lr, epochs, ...).

    A start that diverges is kept in the table with ``val_loss = inf``. The training-set-size
    warning of ``fit`` is given once, not once per start.
    """
    check_positive_int("k (the number of starts)", k)
    seeds = list(range(k)) if seeds is None else [int(s) for s in seeds]
    if len(seeds) != k:
        raise ConfigError(f"multistart needs one seed per start: k = {k} but {len(seeds)} seeds were given")
    if "seed" in fit_kwargs:
        raise ConfigError("multistart sets fit's seed for each start: pass seeds=[...] instead of seed=")
    table, best, best_model, once = [], None, None, FewExamplesOnce()
    for i, seed in enumerate(seeds):
        model = build_model(seed)
        with once():
            try:
                history = fit(model, train, loss=loss, seed=seed, **fit_kwargs)
                epochs = len(history.epoch)
            except TrainingDiverged as err:
                epochs = len(err.history.epoch) if err.history is not None else 0
        train_loss = evaluate(model, *train, loss=loss)["loss"]
        val_loss = evaluate(model, *validation, loss=loss)["loss"]
        if not math.isfinite(val_loss):
            val_loss = math.inf
        table.append({"seed": seed, "epochs": epochs, "train_loss": train_loss, "val_loss": val_loss})
        if best is None or val_loss < table[best]["val_loss"]:
            best, best_model = i, model
    return MultiStartResult(best_model, seeds[best], table)
