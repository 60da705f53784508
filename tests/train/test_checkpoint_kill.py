"""kill -9 at random moments during checkpoint writes never leaves a run without a good checkpoint."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest
import torch

from deepnets.train.checkpoint import CheckpointManager


def _model(value: float) -> torch.nn.Module:
    model = torch.nn.Linear(256, 512)  # ~0.5 MB per checkpoint: long enough to be hit mid-write
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(value)
    return model


def _save_forever(run_dir) -> None:
    """The victim: a fresh manager (as after a restart), then saves as fast as it can."""
    cm = CheckpointManager(run_dir, keep=3)
    info = cm.latest_good()
    step = info.step + 1
    while True:
        cm.save(step, model=_model(float(step)), step=step, extra={"step": step})
        step += 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_kill_9_during_saves_always_leaves_a_loadable_checkpoint(tmp_path):
    torch.set_num_threads(1)
    CheckpointManager(tmp_path, keep=3).save(0, model=_model(0.0), step=0, extra={"step": 0})
    rnd = random.Random(1234)
    steps, stale = [], 0
    for _ in range(20):
        pid = os.fork()
        if pid == 0:  # child: never returns into pytest
            try:
                _save_forever(tmp_path)
            finally:
                os._exit(1)
        time.sleep(rnd.uniform(0.02, 0.25))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
        stale += any(n.startswith(".tmp-") for n in os.listdir(tmp_path / "checkpoints"))
        cm = CheckpointManager(tmp_path, keep=3)  # cleans what the kill left
        info = cm.latest_good()
        ckpt = cm.load(info.name)
        step = ckpt["step"]
        assert ckpt["extra"]["step"] == step and info.step == step
        assert all(torch.all(t == float(step)) for t in ckpt["model"].values())
        steps.append(step)
    assert steps == sorted(steps) and steps[-1] >= 1  # saves completed between kills
    assert stale >= 1  # at least one kill landed inside a write (typically most do)

    # damage the newest: the run falls back to the one before it
    cm = CheckpointManager(tmp_path, keep=3)
    newest, previous = cm.list()[-1], cm.list()[-2]
    newest.path.write_bytes(newest.path.read_bytes()[:-7])
    assert cm.latest_good() == previous
    assert cm.load()["step"] == previous.step
