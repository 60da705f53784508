"""Restarts: fresh random weights when the training loss stalls (the lecture's remedy)."""

from __future__ import annotations

import logging

import torch

from ...errors import ConfigError
from .base import Callback

log = logging.getLogger(__name__)


class RestartOnStall(Callback):
    """Restart from fresh random weights when the training loss stops falling fast enough.

    The rule (the lecture's "restart if training error does not decrease fast enough"): after
    each epoch past the first ``window``, if ``loss`` has not fallen by at least the fraction
    ``min_fall`` of its value ``window`` epochs ago, and it is still above ``target``, the model's
    weights are drawn again (``reset_parameters`` with a generator seeded ``seed + restart``),
    the optimizer's state is cleared, and the count starts over. At most ``max_restarts`` times.
    The new weights are drawn when the next epoch begins, so that every callback's end-of-epoch
    hook (early stopping keeping the best weights, a checkpoint) sees the weights the epoch's
    logs were measured on, whatever the callbacks' order.

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
        self.pending = False  # a restart decided at an epoch's end, done when the next begins

    def state_dict(self) -> dict:
        return {"losses": list(self.losses), "restarts": self.restarts, "pending": self.pending}

    def load_state_dict(self, state: dict) -> None:
        self.losses, self.restarts = [float(v) for v in state["losses"]], int(state["restarts"])
        self.pending = bool(state.get("pending", False))

    def on_epoch_begin(self, epoch, logs=None):
        if self.pending:
            self.pending = False
            self._restart()

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
            self._model()  # (a model that cannot restart is refused now, not an epoch later)
            self.restarts += 1
            self.pending = True
            self.losses = []
            log.info("epoch %d: loss %.4g fell less than %.0f%% in %d epochs; restart %d",
                     epoch + 1, loss, 100 * self.min_fall, self.window, self.restarts)

    def _model(self):
        model = self.loop.model
        while isinstance(model, torch.nn.parallel.DistributedDataParallel):  # the same draw on every rank
            model = model.module
        if not hasattr(model, "reset_parameters"):
            raise ConfigError(f"RestartOnStall needs a model with reset_parameters(generator), got {type(model).__name__}")
        return model

    def _restart(self):
        self._model().reset_parameters(torch.Generator().manual_seed(self.seed + self.restarts))
        self.loop.optimizer.state.clear()
