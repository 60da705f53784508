"""Command-line runs for the fault tests and the fault benchmark: start ``deepnets train`` in a
child process, stop it with a signal (or kill -9) at a moment drawn at random, resume it, and
compare every file of the run with the uninterrupted run's."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
DIGITS = str(ROOT / "examples" / "digits.toml")

#: examples/digits.toml (early stopping on), made small: restarts, one pixel learnt as a hint,
#: saves every 7 steps and every epoch
DIGITS_SMALL = [
    DIGITS, "--set", "model.hidden=[12]", "--set", "train.epochs=12", "--set", "train.batch_size=128",
    "--set", "train.optimizer.lr=0.03", "--set", "train.early_stopping.patience=2",
    "--set", "train.restarts={window=2, min_fall=0.5, max=1}", "--set", 'train.hints.columns=["pixel_20"]',
    "--set", "train.checkpoint={every_steps=7, every_epochs=1, keep=2}", "--set", "run.plots=false"]
#: the same with two starts (a multi-start run)
DIGITS_STARTS = [*DIGITS_SMALL, "--set", "train.starts=2"]


def command(*args) -> list[str]:
    return [sys.executable, "-m", "deepnets", "train", *args]


def environment() -> dict:
    src = str(ROOT / "src")
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": src if not path else src + os.pathsep + path}


def train(out, name: str, args) -> None:
    """``deepnets train ARGS --out OUT --set run.name=NAME``, to the end (in this process)."""
    from deepnets.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", *args, "--set", f"run.name={name}", "--out", str(out), "--no-progress"]) == 0


def resume(run) -> None:
    """``deepnets train --resume RUN`` (in this process)."""
    from deepnets.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["train", "--resume", str(run)]) == 0


def _epochs_logged(run: Path) -> int:
    """Lines of every metrics log under ``run`` (a multi-start run has one per start)."""
    n = 0
    for log in [run / "metrics.jsonl", *run.glob("start-*/metrics.jsonl")]:  # (not rglob: checkpoints come and go)
        try:
            n += log.read_bytes().count(b"\n")
        except OSError:
            pass
    return n


def interrupt(out, name: str, args, *, rnd: random.Random, signum=signal.SIGTERM, max_epochs: int,
              timeout: float = 300) -> tuple[int, int]:
    """Start the run, wait until ``k`` epochs are logged (k drawn from 0..max_epochs−1), then a
    random fraction of an epoch more (of 100 ms before two epochs are seen), and send
    ``signum``; return ``(exit status, k)``. Exit 75: stopped and checkpointed; 0: it finished
    first; anything else: the signal came outside training."""
    k = rnd.randrange(max_epochs)
    run = Path(out) / name
    proc = subprocess.Popen(command(*args, "--set", f"run.name={name}", "--out", str(out)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment())
    deadline = time.monotonic() + timeout
    seen: dict = {}  # epochs logged -> when first seen (an epoch's length, however fast the run)
    while proc.poll() is None and (logged := _epochs_logged(run)) < k and time.monotonic() < deadline:
        seen.setdefault(logged, time.monotonic())
        time.sleep(0.005)
    seen.setdefault(_epochs_logged(run), time.monotonic())
    epoch_s = 0.1
    if len(seen) >= 3:  # (the first epoch seen includes start-up)
        (a, ta), (b, tb) = sorted(seen.items())[1], max(seen.items())
        epoch_s = min(0.1, (tb - ta) / max(1, b - a))
    time.sleep(rnd.uniform(0, epoch_s))
    if proc.poll() is None:
        proc.send_signal(signum)
    proc.communicate(timeout=timeout)
    return proc.returncode, k  # (a signal after training ended: the exit status is not ours to check here)


def trial(out, name: str, args, *, full: dict, rnd: random.Random, signum=signal.SIGTERM) -> dict:
    """One interrupted run, resumed, compared with the uninterrupted run's files ``full``.

    Exit 75 (stopped, checkpointed) or a death by the signal outside training (between the
    starts of a multi-start run, during start-up) is followed by ``--resume``; a run killed
    before its folder held a checkpoint it could resume from is started again. Returns
    ``{"status", "resumed", "restarted", "exact", "differs"}``."""
    epochs = sum(len(v) for k, v in full.items() if k.endswith("metrics.jsonl") and "/" in k) or \
        len(full["metrics.jsonl"])  # epochs logged in all (a multi-start run: by every start)
    status, _ = interrupt(out, name, args, rnd=rnd, signum=signum, max_epochs=max(1, epochs - 1))
    run, resumed, restarted = Path(out) / name, False, False
    if status != 0:
        if (run / "config.toml").is_file() and (any(run.rglob("checkpoints/*.safetensors")) or
                                                any(run.rglob("manifest.json"))):
            resume(run)
            resumed = True
        else:  # nothing to resume from: the run starts again
            shutil.rmtree(run, ignore_errors=True)
            train(out, name, args)
            restarted = True
    differs = same_run(full, run_files(run))
    return {"status": status, "resumed": resumed, "restarted": restarted, "exact": not differs, "differs": differs}


def run_files(run) -> dict:
    """What a finished run leaves, for an exact comparison: every weights file (tensors), every
    metrics log (parsed lines), every summary (the training time left out) and starts table."""
    run, out = Path(run), {}
    for path in sorted(run.rglob("*")):
        rel = str(path.relative_to(run))
        if "checkpoints" in path.parts or not path.is_file():
            continue
        if path.name == "weights.safetensors":
            out[rel] = load_file(str(path))
        elif path.name == "metrics.jsonl":
            out[rel] = [json.loads(line) for line in path.read_text().splitlines()]
        elif path.name in ("summary.json", "starts.json"):
            data = json.loads(path.read_text())
            if isinstance(data, dict):
                data.pop("train_seconds", None)
            out[rel] = data
    return out


def same_run(a: dict, b: dict) -> list[str]:
    """The files on which two runs differ (tensors by torch.equal, JSON values by ==)."""
    bad = sorted(set(a) ^ set(b))
    for k in set(a) & set(b):
        x, y = a[k], b[k]
        if isinstance(x, dict) and x and all(isinstance(v, torch.Tensor) for v in x.values()):
            if x.keys() != y.keys() or not all(torch.equal(x[n], y[n]) for n in x):
                bad.append(k)
        elif x != y:
            bad.append(k)
    return bad
