"""Loggers: each epoch's logs written somewhere as they come."""

from __future__ import annotations

import json

from ...atomic import append_line
from .base import Callback


class JsonLinesLogger(Callback):
    """Append each epoch's logs to ``path`` as one JSON object per line (``{"epoch": 1, ...}``)."""

    def __init__(self, path):
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        # the whole line or none (a full disk leaves no half line), then FileWriteError naming the log
        append_line(self.path, json.dumps({"epoch": epoch + 1, **(logs or {})}),
                    what=f"epoch {epoch + 1} to the metrics log")
