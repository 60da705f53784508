"""Checkpoint writes on a thread of their own, newest first: the training thread takes a snapshot
(every tensor copied) and hands it over; the writer builds the header, hashes, writes, fsyncs,
renames and prunes.

One write at a time, in order. A snapshot handed over while a write is under way waits in a
one-place slot; a newer one *supersedes* it there (counted in ``skipped``). Superseding rather
than waiting, because a queue that blocks would put the disk's latency back on the training
thread, which is what writing in the background removes; and nothing is lost by it: each
checkpoint written is whole and exact (a run resumed from it continues bit for bit), what is on
disk is always the newest state at most one write behind, and a kill at any moment leaves the
one before it, as with a save in one go. :meth:`BackgroundWriter.flush` waits until everything
handed over is written (the end of fit, SIGTERM, Ctrl-C).
"""

from __future__ import annotations

import threading
from pathlib import Path

from deepnets.train.checkpoint import CheckpointManager
from deepnets.train.checkpoint_snapshot import Snapshot

#: Seconds an idle writer thread waits for the next snapshot before it ends (a new one starts then).
IDLE_S = 2.0


class BackgroundWriter:
    """Write :class:`Snapshot` objects with ``manager.write`` on one thread, newest first.

    ``last`` is the file of the newest checkpoint written; ``skipped`` how many snapshots a newer
    one superseded before their write began; ``written`` how many were written. A write's error
    is raised by the next :meth:`submit` or :meth:`flush` (the snapshot waiting then is dropped).
    """

    def __init__(self, manager: CheckpointManager):
        self.manager = manager
        self.last: Path | None = None
        self.skipped = self.written = 0
        self._cond = threading.Condition()
        self._pending: tuple | None = None  # (name, snapshot) waiting for the write under way
        self._busy = False
        self._thread: threading.Thread | None = None
        self._failed: BaseException | None = None

    def submit(self, name, snap: Snapshot) -> None:
        """Hand ``snap`` over to be written as checkpoint ``name`` (returns at once)."""
        self._raise_failed()
        with self._cond:
            if self._thread is None:  # no writer: one starts, busy with this snapshot from the start
                self._busy = True
                self._thread = threading.Thread(target=self._run, args=((name, snap),), daemon=True,
                                                name="deepnets-checkpoint")
                self._thread.start()
                return
            if self._pending is not None:
                self.skipped += 1
            self._pending = (name, snap)
            self._cond.notify_all()

    def _run(self, item) -> None:
        while True:
            try:
                path, failed = self.manager.write(*item), None
            except BaseException as exc:  # raised on the training thread by submit() or flush()
                path, failed = None, exc
            with self._cond:
                if failed is None:
                    self.last, self.written = path, self.written + 1
                else:
                    self._failed, self._pending = failed, None
                self._busy = False
                self._cond.notify_all()
                if self._pending is None:
                    self._cond.wait(IDLE_S)
                if self._pending is None:  # idle: end; the next submit starts a thread again
                    self._thread = None
                    return
                item, self._pending, self._busy = self._pending, None, True

    def flush(self) -> None:
        """Wait until every snapshot handed over is written; raise what a write raised."""
        with self._cond:
            while self._pending is not None or self._busy:
                self._cond.wait()
        self._raise_failed()

    def _raise_failed(self) -> None:
        with self._cond:
            failed, self._failed = self._failed, None
        if failed is not None:
            raise failed
