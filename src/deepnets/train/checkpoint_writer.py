"""Checkpoint writes on a thread of their own, newest first: the training thread hands over a
snapshot and goes on.

One write at a time, in order. A snapshot handed over while a write is under way waits in a
one-place slot; a newer one replaces it there (counted in ``skipped``): when the disk is slower
than the saves, what is written is always the newest state, at most one write behind, and each
checkpoint written is whole and exact (a kill at any moment leaves the one before it, as with a
save in one go). :meth:`BackgroundWriter.flush` waits until everything handed over is written.
"""

from __future__ import annotations

import threading
from pathlib import Path

from deepnets.train.checkpoint import CheckpointManager
from deepnets.train.checkpoint_snapshot import Snapshot


class BackgroundWriter:
    """Write :class:`Snapshot` objects with ``manager.write`` on one thread, newest first.

    ``last`` is the folder of the newest checkpoint written; ``skipped`` how many snapshots a newer
    one replaced before their write began; a write's error is raised by the next :meth:`submit`
    or :meth:`flush` (and nothing more is written after it).
    """

    def __init__(self, manager: CheckpointManager):
        self.manager = manager
        self.last: Path | None = None
        self.skipped = 0
        self._lock = threading.Lock()
        self._pending: tuple | None = None  # (name, snapshot) waiting for the write under way
        self._thread: threading.Thread | None = None
        self._failed: BaseException | None = None

    def submit(self, name, snap: Snapshot) -> None:
        """Hand ``snap`` over to be written as checkpoint ``name`` (returns at once)."""
        self._raise_failed()
        with self._lock:
            if self._thread is not None:  # a write under way: wait in the slot (the newest wins)
                self.skipped += self._pending is not None
                self._pending = (name, snap)
                return
            self._thread = threading.Thread(target=self._run, args=((name, snap),), daemon=True,
                                            name="deepnets-checkpoint")
            self._thread.start()

    def _run(self, item) -> None:
        while item is not None:
            try:
                self.last = self.manager.write(*item)
            except BaseException as exc:  # raised on the training thread by submit() or flush()
                with self._lock:
                    self._failed, self._pending, self._thread = exc, None, None
                return
            with self._lock:
                item, self._pending = self._pending, None
                if item is None:
                    self._thread = None

    def flush(self) -> None:
        """Wait until every snapshot handed over is written; raise what a write raised."""
        while True:
            with self._lock:
                thread = self._thread
            if thread is None:
                break
            thread.join()
        self._raise_failed()

    def _raise_failed(self) -> None:
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed
