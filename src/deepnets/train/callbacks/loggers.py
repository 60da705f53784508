"""Loggers: each epoch's logs written somewhere as they come."""

from __future__ import annotations

import json
import logging
import os

from ...atomic import append_line, write_atomic
from .base import Callback

log = logging.getLogger(__name__)


class JsonLinesLogger(Callback):
    """Append each epoch's logs to ``path`` as one JSON object per line (``{"epoch": 1, ...}``).

    Put it after the callbacks that add to the logs (restarts) so that its lines hold what the
    history records. Its state is the number of lines this run has written: a run resumed from a
    checkpoint cuts the file back to the lines written up to that checkpoint (a run killed after
    it logged more epochs than it saved would otherwise log them twice).
    """

    def __init__(self, path):
        self.path = path
        self.lines = 0     # lines written by this run (and the runs it resumes)
        self._start = 0    # bytes the file held before this run wrote its first line

    def on_train_begin(self, logs=None):
        self.lines = 0
        self._start = os.path.getsize(self.path) if os.path.isfile(self.path) else 0

    def on_epoch_end(self, epoch, logs=None):
        # the whole line or none (a full disk leaves no half line), then FileWriteError naming the log
        append_line(self.path, json.dumps({"epoch": epoch + 1, **(logs or {})}),
                    what=f"epoch {epoch + 1} to the metrics log")
        self.lines += 1

    def state_dict(self) -> dict:
        return {"lines": self.lines, "start": self._start}

    def load_state_dict(self, state: dict) -> None:
        """Cut the file back to the run's lines up to the checkpoint (what came before the run kept)."""
        self.lines, self._start = int(state["lines"]), int(state.get("start", 0))
        if not os.path.isfile(self.path):
            log.warning("%s: missing; the epochs before the checkpoint are not in it", self.path)
            return
        with open(self.path, "rb") as fh:
            head, body = fh.read(self._start), fh.read().splitlines(keepends=True)
        if len(body) < self.lines:
            log.warning("%s: holds %d of the run's %d epochs up to the checkpoint; kept as it is",
                        self.path, len(body), self.lines)
            return
        if len(body) > self.lines:
            write_atomic(self.path, head + b"".join(body[:self.lines]))
