"""Metrics computed on whole splits: ``metric(pred, target) -> float``, and :func:`evaluate`,
a model's loss and metrics on ``(x, y)``.

>>> import torch
>>> accuracy(torch.tensor([[0.9, 0.1], [0.2, 0.8]]), torch.tensor([0, 0]))
0.5
>>> accuracy(torch.tensor([[0.7], [-0.3]]), torch.tensor([[1.0], [-1.0]]))
1.0
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from .._registry import eval_mode
from ..errors import ConfigError
from ..losses import get_loss
from .dtypes import check_input_dtype


def predicted_classes(pred: Tensor, threshold: float = 0.5) -> Tensor:
    """Class indices from outputs: argmax over several outputs, ``pred > threshold`` for one."""
    if pred.shape[1] == 1:
        return (pred[:, 0] > threshold).long()
    return pred.argmax(1)


def accuracy(pred: Tensor, target: Tensor, threshold: float | None = None) -> float:
    """Fraction of samples whose predicted class equals the target class.

    Targets are class labels (N,), or coded vectors (N, C) compared by argmax. A single output is
    thresholded at ``threshold``: by default 0 when coded targets hold negative values (±1 coding),
    else 0.5. :func:`deepnets.fit` passes 0 for losses with ±1 coding.
    """
    if threshold is None:
        threshold = 0.0 if target.is_floating_point() and bool((target < 0).any()) else 0.5
    truth = predicted_classes(target, threshold) if target.is_floating_point() else target
    return float((predicted_classes(pred, threshold) == truth).double().mean())


def mse(pred: Tensor, target: Tensor, threshold=None) -> float:
    """Mean over samples and outputs of (z − ẑ)²."""
    if pred.shape != target.shape:
        raise ConfigError(f"mse needs matching shapes, got {tuple(pred.shape)} and {tuple(target.shape)}")
    return float(((pred - target) ** 2).double().mean())


def rmse(pred: Tensor, target: Tensor, threshold=None) -> float:
    """√mse: root-mean-square error."""
    return mse(pred, target) ** 0.5


def nmse(pred: Tensor, target: Tensor, threshold=None) -> float:
    """Normalised MSE, Weigend's average relative variance (ARV): Σ (z − ẑ)² / Σ (z − z̄)².

    z̄ is the mean of the targets over the evaluated set S itself (per output column), so the
    normaliser is the variance of the target over S: NMSE = MSE / Var_S(z). Predicting the set's
    own mean gives exactly 1; a perfect prediction gives 0; NMSE is unchanged when targets and
    predictions are scaled alike. A constant target (zero variance) gives NaN.

    Reference: Weigend, Huberman & Rumelhart 1990, "Predicting the future: a connectionist
    approach", Int. J. Neural Systems 1(3) (the ARV).

    >>> nmse(torch.tensor([[2.0], [2.0]]), torch.tensor([[1.0], [3.0]]))
    1.0
    """
    if pred.shape != target.shape:
        raise ConfigError(f"nmse needs matching shapes, got {tuple(pred.shape)} and {tuple(target.shape)}")
    z = target.double()
    spread = float(((z - z.mean(0)) ** 2).sum())
    if spread == 0.0:
        return float("nan")
    return float(((pred.double() - z) ** 2).sum()) / spread


#: name -> metric
METRICS = {"accuracy": accuracy, "mse": mse, "rmse": rmse, "nmse": nmse}


def get_metric(name: str):
    if callable(name):
        return name
    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}: expected one of {sorted(METRICS)}")
    return METRICS[name]


def evaluate(model, x: Tensor, y: Tensor, *, loss="lms", metrics: Sequence = (), batch_size: int = 8192,
             threshold: float | None = None) -> dict[str, float]:
    """The loss and metrics of ``model`` on ``(x, y)``, in eval mode, in chunks of ``batch_size``.

    Args:
        model: any module mapping inputs to outputs.
        x, y: the inputs and targets.
        loss: as :func:`deepnets.fit` takes it (a name, a Loss, a callable). Default "lms".
        metrics: names in :data:`METRICS` or callables ``(pred, target) -> float``. Default none.
        batch_size: rows per forward pass. Default 8192.
        threshold: the decision threshold of a single output for accuracy (None: the metric's own).

    Returns:
        ``{"loss": E, name: value, ...}``.
    """
    check_input_dtype(model, x)
    loss_fn = get_loss(loss, model=model)
    if threshold is None:  # a single output's decision threshold follows from the cost: 0 on a logit
        threshold = getattr(loss_fn, "decision_threshold", None)
    with eval_mode(model), torch.no_grad():  # no graph: evaluation only reads the outputs
        preds = torch.cat([model(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])
    out = {"loss": float(loss_fn(preds, y))}
    for m in metrics:
        fn = get_metric(m)
        name = m if isinstance(m, str) else getattr(m, "__name__", "metric")
        out[name] = fn(preds, y, threshold) if threshold is not None else fn(preds, y)
    return out
