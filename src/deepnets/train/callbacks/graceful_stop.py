"""A graceful stop: SIGTERM or SIGINT finishes the running batch, then training stops.

A :class:`~deepnets.train.callbacks.Checkpointer` then saves where the run stopped, ``fit`` raises
:class:`~deepnets.errors.TrainingInterrupted`, and the command line exits with
:data:`~deepnets.errors.EXIT_INTERRUPTED` (75).
"""

from __future__ import annotations

import signal
import threading

from .base import Callback


class GracefulStop(Callback):
    """On SIGTERM or SIGINT, finish the running batch, then stop training (and let a
    :class:`~deepnets.train.callbacks.Checkpointer` save). A second signal of the same kind gets
    the default behaviour. Handlers are installed only from the main thread and put back when
    training ends."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def on_train_begin(self, logs=None):
        self.previous = {}
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in self.SIGNALS:
            self.previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        if self.loop.signal is not None:  # asked twice: stop now
            signal.signal(signum, self.previous.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
            return
        # only the signal: the loop takes it after the step (on every rank under torchrun), and
        # ``stop_training`` stays the callbacks' own decision, which a checkpoint saves (a signal
        # that came as early stopping ended the run must not undo that)
        self.loop.signal = signum

    def on_train_end(self, logs=None):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}

    def on_train_abort(self):
        """Training failed (an error, not a signal): the handlers are put back all the same."""
        self.on_train_end()
