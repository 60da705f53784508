"""The divergence guard: a loss that explodes by orders of magnitude is divergence too, even when
every value stays finite (Adam with lr = 1e6 saturates the network at a loss ten times its start
and trains on, with no NaN for :class:`~deepnets.train.callbacks.NonFiniteGuard` to see)."""

from __future__ import annotations

import math
import warnings

import torch

from ...errors import ConfigError, DeepnetsError, TrainingDiverged
from ..batches import BatchLoss
from ..metrics import evaluate
from .base import Callback

#: samples of the training data the untrained network's loss is measured on
PROBE = 4096


class DivergenceGuard(Callback):
    """Stop when an epoch's training loss exceeds ``factor`` times the untrained network's loss.

    The reference E_0 is the loss of the network before its first step on the first 4096 training
    samples (in eval mode; with a batch loss, data that are not tensors or a model whose eval-mode
    outputs the loss cannot take, such as one with hint outputs, the first step's batch loss). After each epoch, E_epoch > ``factor`` · E_0 raises
    :class:`~deepnets.errors.TrainingDiverged`: honest training does not end an epoch several
    times worse than where it began. E_0 is saved with checkpoints, so a resumed run keeps it.

    Args:
        factor: the ratio that counts as divergence (> 1; 0 switches the guard off). Default 5.

    Raises:
        ConfigError: ``factor`` is not 0 or a finite number > 1.
    """

    def __init__(self, factor: float = 5.0):
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not (
                factor == 0 or (math.isfinite(factor) and factor > 1)):
            raise ConfigError(f"diverge_factor must be 0 (off) or a finite number > 1, got {factor!r}")
        self.factor = float(factor)
        self.reference: float | None = None

    def state_dict(self) -> dict:
        return {"reference": self.reference}

    def load_state_dict(self, state: dict) -> None:
        self.reference = state["reference"]

    def _untrained_loss(self) -> float | None:
        loop = self.loop
        tensors = getattr(loop.batches, "tensors", None)
        if isinstance(loop.loss, BatchLoss) or tensors is None or len(tensors) != 2:
            return None  # measured on the first step instead
        model = loop.model
        if isinstance(model, torch.nn.parallel.DistributedDataParallel):
            model = model.module  # the bare network: evaluation needs no gradient sync
        x, y = (t[:PROBE] for t in tensors)
        try:
            return evaluate(model, x, y, loss=loop.loss)["loss"]
        except (DeepnetsError, RuntimeError, ValueError):  # eval-mode outputs the loss cannot take
            return None  # (a model with hint outputs in training only): measured on the first step

    def on_train_begin(self, logs=None):
        self.reference = None if not self.factor else self._untrained_loss()
        self._check_reference()

    def _check_reference(self) -> None:
        if self.reference is not None and not (math.isfinite(self.reference) and self.reference > 0):
            warnings.warn(f"the untrained network's loss is {self.reference}: the divergence rule (loss > "
                          f"{self.factor:g} x it) is off for this run", stacklevel=4)
            self.factor = 0.0

    def on_batch_end(self, batch, logs=None):
        if self.factor and self.reference is None and self.loop.step == 1:
            self.reference = float(logs["loss"])
            self._check_reference()

    def on_epoch_end(self, epoch, logs=None):
        if not self.factor or self.reference is None:
            return
        loss = (logs or {}).get("loss")
        if loss is not None and loss > self.factor * self.reference:
            raise TrainingDiverged(
                f"training diverged at epoch {epoch + 1}: the epoch's loss {loss:.4g} is {loss / self.reference:.3g} "
                f"times the untrained network's {self.reference:.4g}, more than the factor {self.factor:g} "
                f"(train.diverge_factor); "
                f"lower the learning rate")
