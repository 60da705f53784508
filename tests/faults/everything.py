"""A small run with every callback of the library switched on, for the fault tests and the fault benchmark.

:func:`train` runs it (optionally interrupted, optionally resumed from a run folder) and
:func:`snapshot` collects everything that must come out equal between an interrupted-and-resumed
run and an uninterrupted one: the weights and buffers (batch norm), the optimizer state, the
history, every callback's state and the lines of the metrics log.
"""

from __future__ import annotations

import json
import os
import signal
import warnings

import torch
from torch import nn

from deepnets import fit
from deepnets.train.setup import FewExamplesWarning
from deepnets.train.callbacks import (Callback, Checkpointer, ClipGradNorm, EarlyStopping, GracefulStop,
                                      JsonLinesLogger, LRScheduler, NonFiniteGuard, ProgressBar, RestartOnStall)

EPOCHS, N, BATCH = 12, 40, 8  # 5 batches an epoch; a restart after epoch 8, early stopping after epoch 10


class Net(nn.Module):
    """Linear, batch norm, tanh, dropout, linear: both kinds of training-time randomness and state."""

    def __init__(self, seed: int = 0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 12), nn.BatchNorm1d(12), nn.Tanh(), nn.Dropout(0.2), nn.Linear(12, 1))
        self.reset_parameters(torch.Generator().manual_seed(seed))

    def reset_parameters(self, generator=None) -> None:
        """Fresh weights from ``generator`` (what RestartOnStall calls)."""
        for m in self.net:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=m.in_features ** -0.5, generator=generator)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.net(x)


def data(n: int = N, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    return x, torch.sin(2 * x[:, :1]) - 0.5 * x[:, 1:2] ** 2


class SignalAt(Callback):
    """Send this process ``signum`` after optimizer step ``step``, or (``epoch_end``) at the start
    of the end-of-epoch hooks of the epoch holding that step (GracefulStop catches it)."""

    def __init__(self, step: int, signum=signal.SIGTERM, *, epoch_end: bool = False):
        self.step, self.signum, self.epoch_end = step, signum, epoch_end

    def on_batch_end(self, batch, logs=None):
        if self.loop.step == self.step and not self.epoch_end:
            os.kill(os.getpid(), self.signum)

    def on_epoch_end(self, epoch, logs=None):
        if self.epoch_end and epoch == (self.step - 1) // (N // BATCH):
            os.kill(os.getpid(), self.signum)


def callbacks(run_dir, *, interval: str = "batch", progress=None):
    """Every callback, in the order the experiment runner uses (checkpointer last)."""
    schedule = (lambda opt: torch.optim.lr_scheduler.StepLR(opt, 7, gamma=0.7)) if interval == "batch" else (
        lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9))
    return [GracefulStop(), NonFiniteGuard(), ClipGradNorm(0.5), LRScheduler(schedule, interval=interval),
            JsonLinesLogger(os.path.join(run_dir, "metrics.jsonl")),
            RestartOnStall(window=2, min_fall=0.05, max_restarts=2, seed=7),
            EarlyStopping("val_loss", patience=3, restore_best_weights=True),
            ProgressBar(EPOCHS, file=progress, interval=0.0)]


def train(run_dir, *, kill_step: int | None = None, signum=signal.SIGTERM, epoch_end: bool = False,
          resume: bool = False, interval: str = "batch", every_steps: int = 3, keep: int = 3, progress=None,
          background: bool = False):
    """One run in ``run_dir`` (its metrics log and checkpoints; written on a thread of their own with
    ``background``); returns ``(model, history, callbacks)``."""
    os.makedirs(run_dir, exist_ok=True)
    model = Net()
    cbs = callbacks(run_dir, interval=interval, progress=progress)
    extra = [] if kill_step is None else [SignalAt(kill_step, signum, epoch_end=epoch_end)]
    ckpt = Checkpointer(run_dir, every_steps=every_steps, every_epochs=1, keep=keep, resume=resume,
                        background=background)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewExamplesWarning)  # 40 examples, 97 weights: on purpose
        hist = fit(model, data(), validation=data(20, seed=2), optimizer="adam", lr=0.05, epochs=EPOCHS,
                   batch_size=BATCH, seed=3, input_noise=0.01, guard=False, callbacks=[*cbs, *extra, ckpt])
    return model, hist, cbs


def snapshot(model, hist, cbs, run_dir) -> dict:
    """Everything that must match bit for bit: weights and buffers, optimizer state, history,
    every callback's state, the metrics log."""
    loop_opt = None
    for c in cbs:
        if isinstance(c, LRScheduler):
            loop_opt = c.scheduler.optimizer
    with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as fh:
        lines = [json.loads(line) for line in fh]
    states = {type(c).__name__: c.state_dict() for c in cbs if hasattr(c, "state_dict")}
    return {"model": {k: v.clone() for k, v in model.state_dict().items()},
            "optimizer": loop_opt.state_dict(), "history": (list(hist.epoch), dict(hist.history)),
            "callbacks": states, "metrics": lines}


def differences(a, b, where: str = "") -> list[str]:
    """The places where two nested structures differ (tensors by torch.equal, floats exactly)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        ok = isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype and \
            a.shape == b.shape and torch.equal(a, b)
        return [] if ok else [where]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(map(str, a))} != {sorted(map(str, b))}"]
        return [d for k in a for d in differences(a[k], b[k], f"{where}.{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b or (a != a and b != b) else [f"{where}: {a!r} != {b!r}"]
