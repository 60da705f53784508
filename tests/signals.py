"""A callback that interrupts training with a real SIGTERM, for the exact-resume tests."""

import os
import signal

from deepnets.train.callbacks import Callback


class KillAt(Callback):
    """Send this process SIGTERM after optimizer step ``step`` (a GracefulStop turns it into
    "finish the batch, checkpoint, stop")."""

    def __init__(self, step):
        self.step = step

    def on_batch_end(self, batch, logs=None):
        if self.loop.step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)
