"""The data of an experiment (``[data]``): loaded, split, scaled, and the hint columns taken out.

Tables are split at random (stratified by default), series by time, into contiguous segments.
The input scaler is fitted on the training part only. Hint columns are split with the inputs, so
their rows stay matched, and then taken out of them: only training sees them, as extra outputs.
"""

from __future__ import annotations

import dataclasses

from .._registry import suggest
from ..config import Experiment
from ..data import Dataset, Scaler, Splits, load_dataset, split
from ..data.limits import override
from ..data.series import SeriesData
from ..errors import ConfigError
from ..losses import code_targets
from ..nn.mlp import MLP
from ..train.hints import hint_targets, hinted_loss, with_hints
from .forecast import split_series
from .transfer_run import keep_classes


def prepare(exp: Experiment):
    """``(data, parts, scaler, hints)``: the dataset (hint columns removed), its split, the input
    scaler fitted on the training part, and the hint columns' split (None without ``[train.hints]``)."""
    with override(**exp.data.limits):
        data = load_dataset(exp.data.name, **exp.data.params)
    if exp.data.keep_classes:  # a task made of some of the classes (transfer: source 0-4, target 5-9)
        data = keep_classes(data, exp.data.keep_classes)
    hint_cols = hint_columns(exp, data)
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


def hint_columns(exp: Experiment, data: Dataset) -> list[int]:
    """The positions of ``train.hints.columns`` among the dataset's feature columns (ConfigError naming a miss)."""
    if exp.train.hints is None:
        return []
    names = [str(h) for h in exp.train.hints.columns]
    if not names:
        raise ConfigError("[train.hints] needs columns = [\"name\", ...]: the feature columns to learn as hints")
    if isinstance(data, SeriesData):
        raise ConfigError("train.hints takes feature columns of a table; a series dataset has none to spare")
    if len(set(names)) != len(names):
        raise ConfigError(f"train.hints.columns names a column twice: {names}")
    missing = [h for h in names if h not in data.feature_names]
    if missing:
        raise ConfigError(f"train.hints.columns: {missing[0]!r} is not a feature column of {data.name}"
                          f"{suggest(missing[0], data.feature_names)}; "
                          f"the columns are {data.feature_names[:20]}")
    if len(names) == len(data.feature_names):
        raise ConfigError(f"train.hints.columns takes every feature column {names}: no inputs would be left")
    return [data.feature_names.index(h) for h in names]


def hinted(exp: Experiment, model, loss, train, hints: Splits, n_outputs: int):
    """The model, cost and training pair that learn the hint columns beside the main task.

    The hint targets are the hint columns standardised on the training part; E = E_main +
    γ E_hint with LMS on the hints (γ = ``train.hints.weight``). The returned model shares the
    main network's weights, which is all that is saved.
    """
    if not isinstance(model, MLP) or len(model.sizes) < 3:
        raise ConfigError(f"train.hints needs model.kind = 'mlp' with a hidden layer, got {exp.model.kind!r}")
    h = hints.train[0]
    h = Scaler.fit(h, "standard")(h)  # (N, H) standardised hint targets
    y = train[1]
    if not y.is_floating_point():
        coding = getattr(loss, "coding", "one_hot")
        y = (loss.code(y, n_outputs) if hasattr(loss, "code") and not getattr(loss, "takes_labels", False)
             else code_targets(y, n_outputs, coding))
    model_h = with_hints(model, h.shape[1], seed=exp.model.seed + 1)
    return model_h, hinted_loss(loss, n_outputs, gamma=exp.train.hints.weight), (train[0], hint_targets(y, h))


def scaled(scaler, pair):
    """``(scaler(x), y)``, or None for a missing split."""
    return None if pair is None else (scaler(pair[0]), pair[1])


__all__ = ["prepare", "hint_columns", "hinted", "scaled"]
