"""Callbacks: everything optional in training, called by :func:`deepnets.fit` in a fixed order.

Order (Keras's): ``on_train_begin`` → per epoch ``on_epoch_begin`` → per batch
``on_batch_begin``, ``on_after_backward`` (inside the optimizer's closure, before the update),
``on_batch_end`` → ``on_epoch_end`` (logs hold ``loss``, ``val_loss`` and ``val_<metric>``) → …
→ ``on_train_end``. A callback stops training by setting ``self.loop.stop_training = True``.
``self.loop`` is the running :class:`~deepnets.train.loop.Loop` (model, optimizer, epoch, ...).
"""

from __future__ import annotations

import copy
import logging
import math

import torch

from ..errors import ConfigError, TrainingDiverged

log = logging.getLogger(__name__)


class Callback:
    """Base class: override the hooks you need; ``self.loop`` is set before training starts."""

    loop = None

    def set_loop(self, loop) -> None:
        self.loop = loop

    def on_train_begin(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_batch_begin(self, batch, logs=None): ...
    def on_after_backward(self, batch, loss): ...
    def on_batch_end(self, batch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_end(self, logs=None): ...


class CallbackList(Callback):
    """Calls each hook on every callback, in the order given."""

    HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_after_backward",
             "on_batch_end", "on_epoch_end", "on_train_end")

    def __init__(self, callbacks):
        self.callbacks = list(callbacks)
        # only the callbacks that override a hook are called for it (the batch hooks are hot)
        for hook in self.HOOKS:
            fns = [getattr(c, hook) for c in self.callbacks if getattr(type(c), hook) is not getattr(Callback, hook)]
            setattr(self, hook, self._caller(fns))
        self.has_batch_hooks = any(getattr(self, h).fns for h in ("on_batch_begin", "on_after_backward", "on_batch_end"))

    @staticmethod
    def _caller(fns):
        def call(*args):
            for f in fns:
                f(*args)
        call.fns = fns
        return call

    def set_loop(self, loop):
        for c in self.callbacks:
            c.set_loop(loop)


class History(Callback):
    """Records each epoch's logs: ``history.history["val_loss"][e]``, ``history.epoch``."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.stop_reason: str | None = None

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def __getitem__(self, key):
        return self.history[key]

    def __repr__(self):
        last = {k: round(v[-1], 5) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last})"


def _mode_of(monitor: str, mode: str) -> str:
    if mode not in ("min", "max", "auto"):
        raise ConfigError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    if mode == "auto":
        return "max" if any(k in monitor for k in ("acc", "r2")) else "min"
    return mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Args:
        monitor: a log key, default ``"val_loss"``.
        min_delta: the smallest change that counts as an improvement. Default 0.
        patience: epochs without improvement before stopping (the lecture's "patience"). Default 10.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (max for accuracies). Default "auto".
        restore_best_weights: put back the weights of the best epoch at the end. Default True.
    """

    def __init__(self, monitor: str = "val_loss", *, min_delta: float = 0.0, patience: int = 10,
                 mode: str = "auto", restore_best_weights: bool = True):
        if patience < 0 or min_delta < 0:
            raise ConfigError(f"EarlyStopping needs patience >= 0 and min_delta >= 0, got {patience}, {min_delta}")
        self.monitor, self.min_delta, self.patience = monitor, float(min_delta), int(patience)
        self.mode = _mode_of(monitor, mode)
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs=None):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch, self.wait, self.best_state, self.stopped_epoch = -1, 0, None, None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor not in (logs or {}):
            raise ConfigError(f"EarlyStopping monitors {self.monitor!r}, but the logs hold {sorted(logs or {})}"
                              " (val_* keys need validation data)")
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_state = copy.deepcopy(self.loop.model.state_dict())
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.loop.stop_training = True

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait, "best_state": self.best_state}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.wait = float(state["best"]), int(state["best_epoch"]), int(state["wait"])
        self.best_state = state["best_state"]

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_state is not None:
            self.loop.model.load_state_dict(self.best_state)
            log.info("restored the weights of epoch %d (%s = %.6g)", self.best_epoch, self.monitor, self.best)


class NonFiniteGuard(Callback):
    """Stop at the first non-finite loss or gradient, before the optimizer applies it.

    Raises :class:`~deepnets.errors.TrainingDiverged` naming the epoch and batch; the weights stay
    those before the failing step. :func:`deepnets.fit` installs it unless told not to.
    """

    def on_train_begin(self, logs=None):
        self._found = None

    def _all_finite(self, tensors) -> bool:
        """One fused kernel per dtype over every tensor (GradScaler's inf/NaN check with scale 1:
        it multiplies by exactly 1 in place, which leaves every value as it was)."""
        t0 = tensors[0]
        if self._found is None or self._found.device != t0.device:
            self._found = torch.zeros(1, device=t0.device)  # stays 0 until a check finds one
            self._one = torch.ones(1, device=t0.device)
        dtype = t0.dtype
        try:
            if all(t.dtype is dtype for t in tensors):  # the usual case: no grouping needed
                torch._amp_foreach_non_finite_check_and_unscale_(tensors, self._found, self._one)
            else:
                by_dtype: dict = {}
                for t in tensors:
                    by_dtype.setdefault(t.dtype, []).append(t)
                for group in by_dtype.values():
                    torch._amp_foreach_non_finite_check_and_unscale_(group, self._found, self._one)
        except (RuntimeError, NotImplementedError):  # pragma: no cover - a backend without the kernel
            return all(bool(torch.isfinite(t).all()) for t in tensors)
        if bool(self._found):
            self._found = None  # training stops here; a fresh flag for any later check
            return False
        return True

    def on_after_backward(self, batch, loss):
        grads = [g for p in self.loop.params if (g := p.grad) is not None and g.is_floating_point()]
        loss = loss.detach()
        if self._all_finite([*grads, loss.reshape(1) if loss.is_floating_point() else loss.float().reshape(1)]):
            return
        if not bool(torch.isfinite(loss).all()):
            bad = f"loss is {float(loss.detach().sum())}"
        else:
            names = [n for n, p in self.loop.named_params if p.grad is not None]
            first = next((n for n, g in zip(names, grads) if not bool(torch.isfinite(g).all())), None)
            bad = f"the gradient of {first!r} is not finite" if first else "the gradient norm overflows"
        if bad:
            raise TrainingDiverged(
                f"non-finite values at epoch {self.loop.epoch + 1}, batch {batch + 1}: {bad}; training stopped "
                f"with the weights from before this step (lower the learning rate or check the data)")


class RestartOnStall(Callback):
    """Restart from fresh random weights when the training loss stops falling fast enough.

    The rule (the lecture's "restart if training error does not decrease fast enough"): after
    each epoch past the first ``window``, if ``loss`` has not fallen by at least the fraction
    ``min_fall`` of its value ``window`` epochs ago, and it is still above ``target``, the model's
    weights are drawn again (``reset_parameters`` with a generator seeded ``seed + restart``),
    the optimizer's state is cleared, and the count starts over. At most ``max_restarts`` times.

    Args:
        window: epochs over which progress is measured. Default 200.
        min_fall: required relative fall of the loss over the window. Default 0.01 (1%).
        target: a loss at or below which no restart happens. Default 0.
        max_restarts: default 10.
        seed: base seed of the restarts' weights. Default 1000.
    """

    def __init__(self, *, window: int = 200, min_fall: float = 0.01, target: float = 0.0,
                 max_restarts: int = 10, seed: int = 1000):
        if window < 1 or not 0 <= min_fall < 1:
            raise ConfigError(f"RestartOnStall needs window >= 1 and 0 <= min_fall < 1, got {window}, {min_fall}")
        self.window, self.min_fall, self.target = int(window), float(min_fall), float(target)
        self.max_restarts, self.seed = int(max_restarts), int(seed)
        self.restarts = 0

    def on_train_begin(self, logs=None):
        self.losses: list[float] = []
        self.restarts = 0

    def state_dict(self) -> dict:
        return {"losses": list(self.losses), "restarts": self.restarts}

    def load_state_dict(self, state: dict) -> None:
        self.losses, self.restarts = [float(v) for v in state["losses"]], int(state["restarts"])

    def on_epoch_end(self, epoch, logs=None):
        loss = logs["loss"]
        self.losses.append(loss)
        logs["restarts"] = self.restarts
        if len(self.losses) <= self.window or loss <= self.target or self.restarts >= self.max_restarts:
            return
        self._check(epoch, loss)

    def _check(self, epoch, loss):
        before = self.losses[-1 - self.window]
        if before - loss < self.min_fall * before:
            self.restarts += 1
            model = self.loop.model
            if not hasattr(model, "reset_parameters"):
                raise ConfigError(f"RestartOnStall needs a model with reset_parameters(generator), got {type(model).__name__}")
            model.reset_parameters(torch.Generator().manual_seed(self.seed + self.restarts))
            self.loop.optimizer.state.clear()
            self.losses = []
            log.info("epoch %d: loss %.4g fell less than %.0f%% in %d epochs; restart %d",
                     epoch + 1, loss, 100 * self.min_fall, self.window, self.restarts)


class JsonLinesLogger(Callback):
    """Append each epoch's logs to ``path`` as one JSON object per line (``{"epoch": 1, ...}``)."""

    def __init__(self, path):
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        import json

        with open(self.path, "a", encoding="utf-8") as fh:  # one line per epoch; nothing left open
            fh.write(json.dumps({"epoch": epoch + 1, **(logs or {})}) + "\n")
