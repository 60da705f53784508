"""SIGTERM or SIGINT after training has ended, while a run evaluates and writes its files: the
run is finished first, then the command stops with a message (never a silent kill halfway
through its files). During training :class:`~deepnets.train.callbacks.GracefulStop` answers them.
"""

from __future__ import annotations

import contextlib
import signal
import threading

from ..errors import StoppedAfterTraining


@contextlib.contextmanager
def held_signals(signals=(signal.SIGTERM, signal.SIGINT)):
    """Hold ``signals`` for the block: the first of a kind is recorded in the yielded list and the
    block goes on; a second of the same kind gets the handler that was there before (the default
    kills, Ctrl-C raises KeyboardInterrupt). Handlers are put back after the block. Outside the
    main thread nothing is held (Python lets only the main thread set handlers)."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return
    previous = {}

    def handle(signum, frame):
        if signum in got:  # asked twice: do what would have been done
            signal.signal(signum, previous[signum])
            signal.raise_signal(signum)
            return
        got.append(signum)

    for sig in signals:
        previous[sig] = signal.signal(sig, handle)
    try:
        yield got
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


__all__ = ["StoppedAfterTraining", "held_signals"]  # the error is defined in deepnets.errors
