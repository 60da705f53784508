"""Learning-rate schedules: a torch LR scheduler stepped once per epoch or once per batch."""

from __future__ import annotations

from ..._registry import check_choice
from ...errors import ConfigError
from .base import Callback


class LRScheduler(Callback):
    """Step a ``torch.optim.lr_scheduler`` scheduler after every epoch or after every batch.

    η_t = schedule(t), t counting epochs (``interval="epoch"``, stepped in ``on_epoch_end``, after
    the epoch's updates) or optimizer steps (``"batch"``, in ``on_batch_end``). Its state is the
    scheduler's ``state_dict``, so a :class:`~deepnets.train.callbacks.Checkpointer` saves and
    resumes it with the run.

    Args:
        scheduler: a scheduler object, or a factory ``f(optimizer) -> scheduler`` called with
            ``fit``'s optimizer when training begins (for an optimizer ``fit`` builds by name).
        interval: ``"epoch"`` (default) or ``"batch"``.

    >>> import torch, deepnets
    >>> x, y = torch.randn(64, 3), torch.randn(64, 1)
    >>> sched = LRScheduler(lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5))
    >>> _ = deepnets.fit(torch.nn.Linear(3, 1), (x, y), optimizer="sgd", lr=0.1, epochs=3, callbacks=[sched])
    >>> sched.scheduler.get_last_lr()
    [0.0125]
    """

    INTERVALS = ("epoch", "batch")

    def __init__(self, scheduler, *, interval: str = "epoch"):
        check_choice("interval", interval, self.INTERVALS)
        if not (hasattr(scheduler, "step") or callable(scheduler)):
            raise ConfigError(f"scheduler must be an LR scheduler or f(optimizer) -> scheduler, got {scheduler!r}")
        self.interval = interval
        self.factory = None if hasattr(scheduler, "step") else scheduler
        self.scheduler = scheduler if self.factory is None else None

    def on_train_begin(self, logs=None):
        if self.factory is not None:
            self.scheduler = self.factory(self.loop.optimizer)

    def on_batch_end(self, batch, logs=None):
        if self.interval == "batch":
            self.scheduler.step()

    def on_epoch_end(self, epoch, logs=None):
        if self.interval == "epoch":
            self.scheduler.step()

    def state_dict(self) -> dict:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.scheduler.load_state_dict(state)
