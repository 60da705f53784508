"""Exact resume: interrupt a run (a real SIGTERM) in the middle of an epoch or at its end, resume
in a new process, and get the uninterrupted run bit for bit: losses, weights, optimizer state and
the order of samples, with shuffling, dropout, Adam and an LR schedule in play."""

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from deepnets import fit
from deepnets.errors import TrainingInterrupted
from deepnets.train import Callback
from deepnets.train.callbacks import Checkpointer, GracefulStop, LRScheduler
from deepnets.train.checkpoint import CheckpointManager

EPOCHS, N, BATCH = 3, 50, 8  # 7 batches an epoch, the last one short


class Recorder(torch.nn.Module):
    """A net with dropout that records a fingerprint of every training batch it sees."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Dropout(0.3),
                                       torch.nn.Linear(16, 1))
        self.seen = []

    def forward(self, x):
        if self.training:
            self.seen.append(float(x[:, 0].sum()))
        return self.net(x)


def data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, 4, generator=g)
    return x, x[:, :1] * 0.7 - x[:, 1:2] ** 2


def train(callbacks=(), resume=None):
    """The run; ``resume``: a checkpoint (or a run folder) that a Checkpointer puts back first."""
    model = Recorder()
    schedule = LRScheduler(lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5))
    if resume is not None:
        ckpt = resume if isinstance(resume, dict) else True
        callbacks = [*callbacks, Checkpointer(resume if ckpt is True else resume["path"].parent.parent,
                                              every_epochs=0, resume=ckpt)]
    hist = fit(model, data(), optimizer="adam", lr=0.01, epochs=EPOCHS, batch_size=BATCH, seed=3,
               input_noise=0.01, callbacks=[schedule, *callbacks])
    return model, hist


class KillAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_batch_end(self, batch, logs=None):
        if self.loop.step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)  # a real signal, handled by GracefulStop


def _resume_in_new_process(run_dir, out):
    code = f"""
import json, sys, torch
sys.path.insert(0, {os.path.dirname(__file__)!r})
import importlib.util
spec = importlib.util.spec_from_file_location("resume_case", {__file__!r})
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
from deepnets.train.checkpoint import CheckpointManager
ckpt = CheckpointManager({str(run_dir)!r}).load()
model, hist = m.train(resume=ckpt)
torch.save({{"weights": model.state_dict(), "seen": model.seen, "loss": hist.history["loss"]}}, {str(out)!r})
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    return torch.load(out, weights_only=True)


@pytest.mark.parametrize("kill_step", [10, 14])  # mid-epoch 2; the last batch of epoch 2
def test_resume_in_a_new_process_is_bit_for_bit(tmp_path, kill_step):
    full, full_hist = train()
    run = tmp_path / "run"
    with pytest.raises(TrainingInterrupted, match="SIGTERM"):
        train([GracefulStop(), Checkpointer(run, every_steps=0, every_epochs=1)] + [KillAt(kill_step)])
    ckpt = CheckpointManager(run).load()
    assert ckpt["step"] == kill_step
    got = _resume_in_new_process(run, tmp_path / "out.pt")
    for k, v in full.state_dict().items():
        assert torch.equal(v, got["weights"][k]), k
    assert got["loss"] == full_hist.history["loss"]  # the whole loss sequence, restored and continued
    assert got["seen"] == full.seen[kill_step:]  # the same samples, in the same order, after the kill


def test_resume_at_an_epoch_boundary_checkpoint(tmp_path):
    full, full_hist = train()
    run = tmp_path / "run"
    train([Checkpointer(run, every_epochs=1, keep=5, background=False)])
    mgr = CheckpointManager(run)
    first = [i for i in mgr.list() if i.epoch == 1][0]
    model, hist = train(resume=mgr.load(first.name))
    for a, b in zip(full.parameters(), model.parameters()):
        assert torch.equal(a, b)
    assert hist.history["loss"] == full_hist.history["loss"]


def test_optimizer_and_scheduler_state_match_after_resume(tmp_path):
    run = tmp_path / "run"
    train([Checkpointer(run, every_steps=5, every_epochs=0, keep=10, background=False)])
    mgr = CheckpointManager(run)
    ckpt = mgr.load(mgr.list()[1].name)  # step 10
    assert ckpt["position"] == 3 and ckpt["epoch"] == 1
    # resuming twice from the same checkpoint gives the same run: nothing leaks between them
    a, _ = train(resume=ckpt)
    b, _ = train(resume=mgr.load(mgr.list()[1].name))
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
