"""A live progress bar (a callback): epoch, loss, validation metric, samples/s."""

from __future__ import annotations

import sys
import time

from .base import Callback


class ProgressBar(Callback):
    """Show training progress on ``file`` (default stderr).

    On a terminal: a tqdm bar over epochs whose postfix shows the loss, the validation loss and
    metric, and samples per second. Elsewhere (a log file, CI): a plain line at the first epoch
    run, at most every ``interval`` seconds after it and at the last epoch. A resumed run counts on
    from the epoch it resumes at (the bar starts there, the lines say ``epoch k/E`` with k absolute).

    Args:
        epochs: the run's epochs (the bar's length).
        file: where to write. Default None: stderr.
        interval: least seconds between plain lines. Default 2.
        samples_per_epoch: training samples per epoch, for the samples/s figure. Default None.
    """

    def __init__(self, epochs: int, *, file=None, interval: float = 2.0, samples_per_epoch: int | None = None):
        self.epochs, self.file, self.interval = epochs, file, interval
        self.samples_per_epoch = samples_per_epoch

    def on_train_begin(self, logs=None):
        self.out = self.file if self.file is not None else sys.stderr
        self.tty = hasattr(self.out, "isatty") and self.out.isatty()
        self.bar, self.first = None, None  # made at the first epoch run: a resumed run starts part-way
        self.t0 = self.t_epoch = self.last_line = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        if self.first is None:  # epochs before ``epoch`` were run before a resume: the count goes on from there
            self.first = epoch
            if self.tty:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=self.epochs, initial=epoch, file=self.out, unit="epoch", dynamic_ncols=True,
                                leave=True)
        self.t_epoch = time.perf_counter()

    def _summary(self, logs) -> dict:
        out = {"loss": f"{logs['loss']:.4g}"}
        for k, v in logs.items():
            if k.startswith("val_"):
                out[k] = f"{v:.4g}"
        dt = time.perf_counter() - self.t_epoch
        if self.samples_per_epoch and dt > 0:
            out["samples/s"] = f"{self.samples_per_epoch / dt:,.0f}"
        return out

    def on_epoch_end(self, epoch, logs=None):
        s = self._summary(logs or {})
        if self.bar is not None:
            self.bar.set_postfix(s, refresh=False)
            self.bar.update(1)
            return
        now = time.perf_counter()
        if now - self.last_line >= self.interval or epoch + 1 == self.epochs or epoch == self.first:
            self.last_line = now
            fields = "  ".join(f"{k} {v}" for k, v in s.items())
            print(f"epoch {epoch + 1}/{self.epochs}  {fields}", file=self.out, flush=True)

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
        elif (self.loop is not None and self.loop.interrupted is None   # an interruption is told by its exception
              and 0 < len(self.loop.history.epoch) < self.epochs):
            print(f"stopped early after epoch {len(self.loop.history.epoch)} of {self.epochs}", file=self.out, flush=True)
