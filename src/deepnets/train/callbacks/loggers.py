"""Loggers: each epoch's logs written somewhere as they come."""

from __future__ import annotations

import json

from .base import Callback


class JsonLinesLogger(Callback):
    """Append each epoch's logs to ``path`` as one JSON object per line (``{"epoch": 1, ...}``)."""

    def __init__(self, path):
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        with open(self.path, "a", encoding="utf-8") as fh:  # one line per epoch; nothing left open
            fh.write(json.dumps({"epoch": epoch + 1, **(logs or {})}) + "\n")
