"""``fit``: one small training loop; everything optional is a callback.

The loop is the lecture's algorithm: shuffle, then for each batch a forward pass, a backward pass
(the co-state recursion for deepnets MLPs, autograd for any other module) and an update. Online
training is ``batch_size=1``, minibatch the default, full batch ``batch_size=None``. Every
optimizer is driven through ``optimizer.step(closure)``, so line-search and second-order
methods that re-evaluate the loss work unchanged.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import torch
from torch import Tensor

from ..backprop import costate_backward, supports_costate
from ..errors import ConfigError, DataError, TrainingDiverged
from ..losses import code_targets, get_loss
from .callbacks import Callback, CallbackList, History, NonFiniteGuard
from .metrics import get_metric
from .optimizers import make_optimizer


class TensorBatches:
    """Minibatches of tensors ``(x, y)``: a fresh permutation each epoch from ``generator``,
    batches as slices of the permuted tensors (no per-sample Python, no DataLoader)."""

    def __init__(self, x: Tensor, y: Tensor, batch_size: int | None, *, shuffle: bool = True,
                 generator: torch.Generator | None = None):
        self.x, self.y = x, y
        self.n = x.shape[0]
        self.batch_size = self.n if batch_size is None else int(batch_size)
        self.shuffle, self.generator = shuffle and self.batch_size < self.n, generator

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self):
        x, y = self.x, self.y
        if self.shuffle:
            perm = torch.randperm(self.n, generator=self.generator).to(x.device)
            x, y = x[perm], y[perm]
        bs = self.batch_size
        if bs >= self.n:
            yield x, y
            return
        for i in range(0, self.n, bs):
            yield x[i:i + bs], y[i:i + bs]


class Loop:
    """The state callbacks see: model, optimizer, loss, epoch, the history, and ``stop_training``."""

    def __init__(self, model, optimizer, loss, history):
        self.model, self.optimizer, self.loss, self.history = model, optimizer, loss, history
        self.named_params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.params = [p for _, p in self.named_params]
        self.epoch = 0
        self.stop_training = False


def _as_pair(data, what: str):
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, Tensor) for t in data):
        x, y = data
        if x.shape[0] != y.shape[0]:
            raise DataError(f"{what}: {x.shape[0]} inputs but {y.shape[0]} targets")
        if x.shape[0] == 0:
            raise DataError(f"{what} is empty")
        return x, y
    return None


@torch.no_grad()
def _n_outputs(model, x: Tensor) -> int:
    sizes = getattr(model, "sizes", None)
    if sizes:
        return sizes[-1]
    was_training = model.training
    model.eval()
    try:
        return model(x[:2]).shape[1]
    finally:
        model.train(was_training)


@torch.no_grad()
def evaluate(model, x: Tensor, y: Tensor, *, loss="lms", metrics: Sequence = (), batch_size: int = 8192,
             threshold: float | None = None) -> dict[str, float]:
    """The loss and metrics of ``model`` on ``(x, y)``, in eval mode, in chunks of ``batch_size``."""
    loss_fn = get_loss(loss)
    was_training = model.training
    model.eval()
    try:
        preds = torch.cat([model(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])
    finally:
        model.train(was_training)
    out = {"loss": float(loss_fn(preds, y))}
    for m in metrics:
        fn = get_metric(m)
        name = m if isinstance(m, str) else getattr(m, "__name__", "metric")
        out[name] = fn(preds, y, threshold) if threshold is not None else fn(preds, y)
    return out


def fit(model: torch.nn.Module, train, *, validation=None, loss="lms", optimizer="adam",
        lr: float | None = None, epochs: int = 100, batch_size: int | None = 32, shuffle: bool = True,
        layer_lr=None, optimizer_options: dict | None = None, input_noise: float = 0.0, penalty=None,
        metrics: Sequence = (), callbacks: Iterable[Callback] = (), guard: bool = True, seed: int = 0,
        device=None) -> History:
    """Train ``model`` and return its :class:`~deepnets.train.callbacks.History`.

    Each step minimises the batch cost E(W) = (1/N_b) Σ_n E_n (+ ``penalty(model, x)``) by
    ``optimizer.step(closure)``; for deepnets MLPs the closure's gradients come from the co-state
    recursion ∂E/∂W(l) = δ(l) ẑ(l−1)ᵀ without an autograd graph.

    Args:
        model: any ``torch.nn.Module`` mapping a batch of inputs to outputs.
        train: ``(x, y)`` tensors, or any iterable of ``(x, y)`` batches (e.g. a DataLoader,
            which then controls batching and shuffling).
        validation: ``(x, y)`` evaluated after every epoch into ``val_loss`` and ``val_<metric>``.
        loss: ``"lms"`` (default), ``"lp"``, ``"cross_entropy"``, a :class:`~deepnets.losses.Loss`,
            or any callable ``(pred, target) -> scalar``.
        optimizer: a name (``"adam"`` default, ``"sgd"``, ``"adagrad"``, ``"rmsprop"``,
            ``"lbfgs"``), a ``torch.optim.Optimizer`` instance, or ``f(param_groups, lr)``.
        lr: learning rate η (default: the optimizer's usual one).
        epochs: passes over the training data. Default 100.
        batch_size: 1 = online (the lecture's incremental algorithm), None = full batch. Default 32.
        shuffle: reshuffle every epoch. Default True.
        layer_lr: per-layer learning rates: a list (one per ``model.layers``) or prefix -> rate.
        optimizer_options: extra keyword arguments of the optimizer (momentum, weight_decay, ...).
        input_noise: variance σ² of Gaussian noise added to every training input batch (the
            lecture's "training with noise"; e.g. 0.1 for standardised data). Default 0.
        penalty: a callable ``penalty(model, x) -> scalar`` added to E: a regularizer from
            :mod:`deepnets.regularizers` (weight decay, weight elimination, curvature-driven
            smoothing, which needs the batch ``x``).
        metrics: names (``"accuracy"``, ``"rmse"``, ``"mse"``) or callables for the validation set.
        callbacks: :class:`~deepnets.train.callbacks.Callback` objects, called in the order given.
        guard: stop at the first non-finite loss or gradient (:class:`NonFiniteGuard`). Default True.
        seed: seeds the shuffling and the input noise (a private ``torch.Generator``).
        device: move the model and tensor data there first (default: leave them where they are).

    Raises:
        TrainingDiverged: on a non-finite loss or gradient (``err.history`` holds the logs so far).

    >>> from deepnets import MLP
    >>> from deepnets.data import xor
    >>> d = xor()
    >>> net = MLP([2, 4, 1], activation="tanh", output="logistic", seed=0)
    >>> h = fit(net, (d.x, d.y), loss="cross_entropy", optimizer="adam", lr=0.05, epochs=300,
    ...         batch_size=None, validation=(d.x, d.y), metrics=["accuracy"])
    >>> h.history["val_accuracy"][-1]
    1.0
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ConfigError(f"epochs must be a non-negative integer, got {epochs!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ConfigError(f"batch_size must be a positive integer or None (full batch), got {batch_size!r}")
    if input_noise < 0:
        raise ConfigError(f"input_noise is a variance and must be >= 0, got {input_noise}")
    loss_fn = get_loss(loss)
    generator = torch.Generator().manual_seed(seed)
    if device is not None:
        model.to(device)
    pair = _as_pair(train, "training data")
    labels_checked = False
    if pair is not None:
        x, y = pair
        if not y.is_floating_point() and hasattr(loss_fn, "code"):
            if getattr(loss_fn, "takes_labels", True):
                code_targets(y, _n_outputs(model, x))  # check the label range once, not every step
                labels_checked = True
            else:
                y = loss_fn.code(y, _n_outputs(model, x))  # code class labels once, not every step
        if device is not None:
            x, y = x.to(device), y.to(device)
        batches = TensorBatches(x, y, batch_size, shuffle=shuffle, generator=generator)
    else:
        batches = train
    val = _as_pair(validation, "validation data") if validation is not None else None
    if validation is not None and val is None:
        raise ConfigError("validation must be a pair of tensors (x, y)")
    if val is not None and device is not None:
        val = (val[0].to(device), val[1].to(device))
    optimizer = make_optimizer(optimizer, model, lr=lr, layer_lr=layer_lr, **(optimizer_options or {}))
    history = History()
    cbs = list(callbacks) + ([NonFiniteGuard()] if guard else []) + [history]
    cb = CallbackList(cbs)
    loop = Loop(model, optimizer, loss_fn, history)
    cb.set_loop(loop)
    fast = supports_costate(model)
    kalman = getattr(optimizer, "closure_returns", None) == "outputs_targets"
    threshold = 0.0 if getattr(loss_fn, "coding", None) == "pm1" else None
    noise_std = math.sqrt(input_noise)
    after_backward = cb.on_after_backward if cb.on_after_backward.fns else None
    opt_params = [p for g in optimizer.param_groups for p in g["params"]]

    logs: dict = {}
    model.train()
    cb.on_train_begin(logs)
    try:
        for epoch in range(epochs):
            loop.epoch = epoch
            cb.on_epoch_begin(epoch, logs)
            total, count = None, 0
            for b, (xb, yb) in enumerate(batches):
                if cb.has_batch_hooks:
                    cb.on_batch_begin(b, {"size": xb.shape[0]})
                if noise_std:
                    xb = xb + noise_std * torch.randn(xb.shape, generator=generator).to(xb.device, xb.dtype)

                def measure(xb=xb, yb=yb):
                    # Kalman filters take the outputs and targets and differentiate them themselves
                    out = model(xb)
                    target = yb if yb.is_floating_point() else code_targets(yb, out.shape[1])
                    return out, target

                def closure(xb=xb, yb=yb, b=b):
                    for p in opt_params:  # zero_grad(set_to_none=True) without its profiler overhead
                        p.grad = None
                    if fast:
                        E = costate_backward(model, xb, yb, loss_fn, validate=not labels_checked)
                    else:
                        E = loss_fn(model(xb), yb)
                        E.backward()
                    if penalty is not None:
                        with torch.enable_grad():
                            P = penalty(model, xb)
                            P.backward()
                        E = E.detach() + P.detach()
                    if after_backward is not None:
                        after_backward(b, E)
                    return E

                E = optimizer.step(measure if kalman else closure)
                E = E.detach() * xb.shape[0]
                total = E if total is None else total + E
                count += xb.shape[0]
                if cb.has_batch_hooks:
                    cb.on_batch_end(b, {"loss": E / xb.shape[0], "size": xb.shape[0]})
                if loop.stop_training:
                    break
            if count == 0:
                raise DataError("the training data yielded no batches")
            logs = {"loss": float(total) / count}
            if val is not None:
                for k, v in evaluate(model, *val, loss=loss_fn, metrics=metrics, threshold=threshold).items():
                    logs["val_" + k] = v
            cb.on_epoch_end(epoch, logs)
            if loop.stop_training:
                break
    except TrainingDiverged as err:
        err.history = history
        history.stop_reason = str(err)
        raise
    cb.on_train_end(logs)
    return history
