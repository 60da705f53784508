"""The fault suite, many trials of each kind of fault: how many runs survive and resume bit for bit.

Each trial damages a run and compares what comes out with the uninterrupted run (weights and
buffers by torch.equal; optimizer state, history, every callback's state and the metrics log
by ==). The library run is the everything-on run of ``tests/faults/everything.py`` (graceful
stop, non-finite guard, clipping, an LR schedule per batch, metrics log, restarts, early stopping
with best-weight restore, progress bar, dropout, batch norm, input noise, Adam, a checkpoint
every 3 steps and every epoch); the command-line run is examples/digits.toml (early stopping on)
made small, with restarts and a hint column (``tests/faults/cli_runs.py``).

Kinds:

- ``signal``: SIGTERM or SIGINT after a random step (or inside a random epoch's end-of-epoch
  hooks) of the library run, then a fresh run with ``Checkpointer(resume=True)``.
- ``kill9_anytime``: SIGKILL of a forked child running the library run at a random moment,
  then resume (a run killed before its first checkpoint starts again).
- ``kill9_in_save``: SIGKILL inside a random checkpoint save, at a random byte offset of its
  writes or just before a random one of its operations (mkdir, the file's fsync, the rename, the
  folder's fsync, the unlink of a pruned checkpoint), then resume.
- ``corrupt``: the newest checkpoint of an interrupted run truncated at a random length or one
  random bit flipped, in a random part of its file (the length, the header, the digest, the
  tensors), then resume (from the one before).
- ``cli_signal``: SIGTERM or SIGINT at a random moment of ``deepnets train``, then
  ``deepnets train --resume``.

Columns: trials; survived (the run finished after the fault, by resume or restart); exact
(its result equals the uninterrupted run's); corrupted_loaded (a checkpoint that was damaged, or
whose weights differ from the uninterrupted run's checkpoint of the same name, was loaded: must
be 0). Writes ``benchmarks/results/faults.json``.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/fault_suite.py --trials 20 --cli-trials 6
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from faults import cli_runs as cr  # noqa: E402  (the test helpers: one definition of the runs)
from faults import everything as ev  # noqa: E402
from faults import kill_points as kp  # noqa: E402

from deepnets.errors import CheckpointError, TrainingInterrupted  # noqa: E402
from deepnets.train.checkpoint import CheckpointManager  # noqa: E402
from faults.damage import PARTS, corrupt  # noqa: E402

STEPS = 50  # the library run: 10 epochs of 5 steps (early stopping ends it)


def _bad_loads(run: Path, reference: Path) -> int:
    """Checkpoints of ``run`` that load but whose weights differ from the reference run's
    checkpoint of the same name (a damaged checkpoint that got through)."""
    bad = 0
    for info in CheckpointManager(run).list():
        try:
            got = CheckpointManager(run).load(info.name)
        except CheckpointError:
            continue  # refused: not loaded
        if not (reference / "checkpoints" / info.name).is_dir():
            continue  # a save on the signal, at a step the reference run does not save at
        ref = CheckpointManager(reference).load(info.name)["model"]
        bad += any(not torch.equal(got["model"][k], ref[k]) for k in ref) or got["model"].keys() != ref.keys()
    return bad


def _resume(run) -> dict:
    return ev.snapshot(*ev.train(run, resume=True, progress=io.StringIO()), run)


def signal_trial(run, rnd, full, reference):
    step = rnd.randrange(1, STEPS + 1)
    epoch_end = step % 5 == 0 and rnd.random() < 0.5
    try:
        ev.train(run, kill_step=step, epoch_end=epoch_end, signum=rnd.choice([signal.SIGTERM, signal.SIGINT]),
                 progress=io.StringIO())
    except TrainingInterrupted:
        pass
    bad = _bad_loads(run, reference)
    return not ev.differences(full, _resume(run)), bad


def kill9_anytime_trial(run, rnd, full, reference, duration):
    pid = os.fork()
    if pid == 0:  # the child trains until it is killed
        try:
            ev.train(run, progress=io.StringIO())
        finally:
            os._exit(0)
    time.sleep(rnd.uniform(0, duration))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    if not any(Path(run).glob("checkpoints/step-*.safetensors")):  # killed before its first save
        shutil.rmtree(run)
        return not ev.differences(full, ev.snapshot(*ev.train(run, progress=io.StringIO()), run)), 0
    bad = _bad_loads(run, reference)
    return not ev.differences(full, _resume(run)), bad


def kill9_in_save_trial(run, rnd, full, reference, profiles):
    index = rnd.randrange(1, len(profiles) + 1)
    written, ops = profiles[index - 1]
    if rnd.random() < 0.5:
        plan = kp.KillPlan(index, offset=rnd.randrange(written))
    else:
        plan = kp.KillPlan(index, op_index=rnd.randrange(1, ops + 1))
    kp.train_killed(run, plan)
    if not any(Path(run).glob("checkpoints/step-*.safetensors")):
        shutil.rmtree(run)
        return not ev.differences(full, ev.snapshot(*ev.train(run, progress=io.StringIO()), run)), 0
    bad = _bad_loads(run, reference)
    return not ev.differences(full, _resume(run)), bad


def corrupt_trial(run, rnd, full, reference, cut):
    shutil.copytree(cut, run)
    newest = CheckpointManager(run).list()[-1]
    corrupt(newest.path, rnd.choice(["truncate", "flip"]), rnd, PARTS[rnd.choice(sorted(PARTS))])
    try:
        CheckpointManager(run).load(newest.name)
        bad = 1  # the damaged checkpoint was accepted
    except CheckpointError:
        bad = 0
    return not ev.differences(full, _resume(run)), bad + _bad_loads(run, reference)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=20, help="trials of each library kind (default 20)")
    ap.add_argument("--cli-trials", type=int, default=6, help="command-line trials (default 6)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(HERE / "results" / "faults.json"))
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    rnd = random.Random(args.seed)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        reference = tmp / "reference"  # the uninterrupted run, every checkpoint kept
        t0 = time.perf_counter()
        full = ev.snapshot(*ev.train(reference, keep=1000, progress=io.StringIO()), reference)
        duration = time.perf_counter() - t0
        profiles, i = [], 1
        n_saves = len(CheckpointManager(reference).list()) + 1  # (step 15, 30, ...: a name saved twice)
        while i <= n_saves:
            profiles.append(kp.save_profile(tmp / f"profile{i}", i))
            i += 1
        cut = tmp / "cut"
        try:
            ev.train(cut, kill_step=17, progress=io.StringIO())
        except TrainingInterrupted:
            pass
        kinds = {
            "signal": lambda run: signal_trial(run, rnd, full, reference),
            "kill9_anytime": lambda run: kill9_anytime_trial(run, rnd, full, reference, duration),
            "kill9_in_save": lambda run: kill9_in_save_trial(run, rnd, full, reference, profiles),
            "corrupt": lambda run: corrupt_trial(run, rnd, full, reference, cut),
        }
        for kind, trial in kinds.items():
            row = {"trials": args.trials, "survived": 0, "exact": 0, "corrupted_loaded": 0}
            for t in range(args.trials):
                try:
                    exact, bad = trial(tmp / f"{kind}-{t}")
                    row["survived"] += 1
                    row["exact"] += bool(exact)
                    row["corrupted_loaded"] += bad
                except Exception as exc:  # a run that did not survive: counted, reported
                    print(f"{kind} trial {t}: {type(exc).__name__}: {exc}", file=sys.stderr)
            results[kind] = row
            print(f"{kind:14s} {row}", flush=True)
        cli = {"trials": args.cli_trials, "survived": 0, "exact": 0, "corrupted_loaded": 0, "stopped_checkpointed": 0,
               "restarted": 0}
        if args.cli_trials:
            cr.train(tmp / "cli", "full", cr.DIGITS_SMALL)
            cli_full = cr.run_files(tmp / "cli" / "full")
            for t in range(args.cli_trials):
                try:
                    got = cr.trial(tmp / "cli", f"cut{t}", cr.DIGITS_SMALL, full=cli_full, rnd=rnd,
                                   signum=(signal.SIGTERM, signal.SIGINT)[t % 2])
                    cli["survived"] += 1
                    cli["exact"] += got["exact"]
                    cli["stopped_checkpointed"] += got["status"] in (75, 130)  # SIGTERM 75, Ctrl-C 130
                    cli["restarted"] += got["restarted"]
                except Exception as exc:
                    print(f"cli_signal trial {t}: {type(exc).__name__}: {exc}", file=sys.stderr)
        results["cli_signal"] = cli
        print(f"{'cli_signal':14s} {cli}", flush=True)
    results["command"] = ("PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/fault_suite.py "
                          f"--trials {args.trials} --cli-trials {args.cli_trials} --seed {args.seed}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=2)
    print("written to", args.out)


if __name__ == "__main__":
    main()
