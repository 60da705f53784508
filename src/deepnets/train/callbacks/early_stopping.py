"""Early stopping: stop when a monitored log value stops improving, keep the best weights."""

from __future__ import annotations

import copy
import logging
import math

from ...errors import ConfigError
from .base import Callback

log = logging.getLogger(__name__)


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
        restore_best_weights: put back the weights of the best epoch at the end (not when
            training is interrupted, to be resumed). Default True.
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
        if self.loop.interrupted is not None:  # not the end: a checkpoint saves the weights as they are
            return
        if self.restore_best_weights and self.best_state is not None:
            self.loop.model.load_state_dict(self.best_state)
            log.info("restored the weights of epoch %d (%s = %.6g)", self.best_epoch, self.monitor, self.best)
