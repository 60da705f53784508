"""Data parallel (torchrun, 2 gloo ranks on the CPU) with early stopping and restarts: SIGTERM
to torchrun at a random moment, then ``torchrun ... train --resume RUN``: the run folder ends up
equal to the uninterrupted 2-rank run's (weights by torch.equal, metrics log, summary). Slow:
each trial starts torchrun twice."""

import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from faults import cli_runs as cr

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(), reason="needs gloo")]

# parity: 38 training examples, 2 ranks x 8 = 3 steps an epoch; a restart after epoch 5, early
# stopping after epoch 10 (of 16)
ARGS = ["--set", "data.name=parity", "--set", "data.params={n_bits=6}", "--set", "data.split=[0.6, 0.4, 0.0]",
        "--set", "model.hidden=[16]", "--set", "train.epochs=16", "--set", "train.batch_size=8",
        "--set", "train.optimizer.lr=0.02", "--set", "train.early_stopping={patience=5}",
        "--set", "train.restarts={window=3, min_fall=0.3, max=1}",
        "--set", "train.checkpoint={every_steps=2, every_epochs=1, keep=2}", "--set", "run.plots=false",
        "--no-progress"]


def torchrun(*args):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "deepnets", "train", *args]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=cr.environment())


def _finish(proc, ok=(0,)):
    _, err = proc.communicate(timeout=400)
    assert proc.returncode in ok, err[-3000:]
    return proc.returncode


def test_sigterm_to_torchrun_then_resume_equals_the_uninterrupted_run(tmp_path):
    _finish(torchrun(*ARGS, "--set", "run.name=full", "--out", str(tmp_path)))
    full = cr.run_files(tmp_path / "full")
    assert len(full["metrics.jsonl"]) == 10 and full["metrics.jsonl"][-1]["restarts"] == 1
    rnd = random.Random(7)
    for trial in range(3):
        name = f"cut{trial}"
        proc = torchrun(*ARGS, "--set", f"run.name={name}", "--out", str(tmp_path))
        metrics, k = tmp_path / name / "metrics.jsonl", rnd.randrange(1, 9)
        while proc.poll() is None and (not metrics.exists() or metrics.read_bytes().count(b"\n") < k):
            time.sleep(0.01)
        time.sleep(rnd.uniform(0, 0.1))
        proc.send_signal(signal.SIGTERM)
        _finish(proc, ok=(0, 1, 75))  # torchrun itself exits 1 on a SIGTERM
        _finish(torchrun("--resume", str(tmp_path / name)))
        assert cr.same_run(full, cr.run_files(tmp_path / name)) == [], trial
