"""Checkpoints during training and a graceful stop on SIGTERM/SIGINT, as callbacks.

:class:`Checkpointer` saves the whole training state through a
:class:`~deepnets.train.checkpoint.CheckpointManager` every ``every_steps`` optimizer steps and/or
every ``every_epochs`` epochs, and once more when training is interrupted. The state includes the
loop's own (epoch, position inside the epoch, the epoch's sample order, the shuffling generator,
the running epoch sums, the history and the callbacks' states), so ``fit(..., resume=ckpt)``
continues bit for bit. :class:`GracefulStop` turns SIGTERM and SIGINT into "finish this batch,
save, stop": ``fit`` then raises :class:`~deepnets.errors.TrainingInterrupted`, and the command
line exits with :data:`~deepnets.errors.EXIT_INTERRUPTED` (75).
"""

from __future__ import annotations

import logging
import signal
import threading

from ..errors import ConfigError
from .callbacks import Callback
from .checkpoint import CheckpointManager

log = logging.getLogger(__name__)


class Checkpointer(Callback):
    """Save checkpoints while training.

    Args:
        manager: a :class:`CheckpointManager`, or a run folder to make one in (``keep`` newest kept).
        every_steps: save after every this many optimizer steps (0: never mid-epoch). Default 0.
        every_epochs: save after every this many epochs (0: never). Default 1.
        keep: checkpoints kept when a folder is given. Default 3.
        config: the resolved config stored with each checkpoint (plain data).
    """

    def __init__(self, manager, *, every_steps: int = 0, every_epochs: int = 1, keep: int = 3, config=None):
        if every_steps < 0 or every_epochs < 0:
            raise ConfigError(f"checkpoint intervals must be >= 0, got every_steps={every_steps}, "
                              f"every_epochs={every_epochs}")
        self.manager = manager if isinstance(manager, CheckpointManager) else CheckpointManager(manager, keep=keep)
        self.every_steps, self.every_epochs, self.config = int(every_steps), int(every_epochs), config
        self.last = None

    def save(self):
        loop = self.loop
        self.last = self.manager.save(
            loop.step, model=loop.model, optimizer=loop.optimizer, scheduler=loop.scheduler, step=loop.step,
            epoch=loop.epoch, position=loop.position, config=self.config, extra={"loop": loop.state_dict()})
        return self.last

    def on_batch_end(self, batch, logs=None):
        if self.every_steps and self.loop.step % self.every_steps == 0 and self.loop.interrupted is None:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        if self.every_epochs and (epoch + 1) % self.every_epochs == 0:
            self.save()

    def on_train_end(self, logs=None):
        if self.loop.interrupted is not None:
            path = self.save()
            log.warning("interrupted: checkpoint written to %s", path)


class GracefulStop(Callback):
    """On SIGTERM or SIGINT, finish the running batch, then stop training (and let a
    :class:`Checkpointer` save). A second signal of the same kind gets the default behaviour.
    Handlers are installed only from the main thread and put back when training ends."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def on_train_begin(self, logs=None):
        self.previous = {}
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in self.SIGNALS:
            self.previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        if self.loop.interrupted is not None:  # asked twice: stop now
            signal.signal(signum, self.previous.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
            return
        self.loop.interrupted = signum
        self.loop.stop_training = True

    def on_train_end(self, logs=None):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}
