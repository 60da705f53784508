"""What a background checkpoint write costs the training thread, and which part of the write it is.

Every epoch saved in the background with ``share=1`` (no rest: every save the disk keeps up with
is written), in four arms: no checkpoint; the real writer; the writer with ``os.fsync`` made a
no-op (not durable: a measurement only); a writer that does nothing but sleep ``--sleep-ms`` (about
a write's wall time) instead of writing. The figure is the training thread's CPU time
(``time.thread_time``) over the run less the no-checkpoint run's of the same round, per checkpoint
written: the copy it takes at each save, plus what the writer's work takes from it. The arms run
in one process, each once first (discarded), then ``--repeats`` rounds, the arm order rotated each
round; printed: median [quartiles] (min-max) over rounds.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_checkpoint_contention.py [--job digits]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings

from bench_checkpoint import JOBS, _data, _spread, _train

ARMS = ("none", "writer", "writer, fsync a no-op", "writer that only sleeps")


def _run(x, y, sizes, epochs, arm, sleep_s):
    from deepnets.train.callbacks import Checkpointer
    from deepnets.train.checkpoint import CheckpointManager

    real_write, real_fsync = CheckpointManager.write, os.fsync

    def sleeps(self, name, snap):
        time.sleep(sleep_s)
        return self.dir / "not-written"
    with tempfile.TemporaryDirectory() as run:
        saver = None if arm == "none" else Checkpointer(run, every_epochs=1, keep=3, background=True, share=1.0)
        if arm == "writer that only sleeps":
            CheckpointManager.write = sleeps
        elif arm == "writer, fsync a no-op":
            os.fsync = lambda fd: None
        try:
            cpu = time.thread_time()
            _train(x, y, sizes, epochs, [] if saver is None else [saver])
            cpu = time.thread_time() - cpu
        finally:
            CheckpointManager.write, os.fsync = real_write, real_fsync
    return {"thread": cpu, "written": 0 if saver is None else saver.writer.written}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--job", choices=sorted(JOBS), default="digits")
    ap.add_argument("--epochs", type=int, default=None, help="default: the job's (digits 200)")
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--sleep-ms", type=float, default=2.0, help="the sleeping writer's time a checkpoint")
    ap.add_argument("--out", default=None, help="also write the results as JSON here")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(1)
    dataset, sizes, epochs = JOBS[args.job]
    epochs = args.epochs or epochs
    x, y = _data(dataset)
    for arm in ARMS:  # warm-up, discarded
        _run(x, y, sizes, epochs, arm, args.sleep_ms / 1e3)
    runs, loads = {arm: [] for arm in ARMS}, [os.getloadavg()[0]]
    for r in range(args.repeats):
        k = r % len(ARMS)
        for arm in ARMS[k:] + ARMS[:k]:
            runs[arm].append(_run(x, y, sizes, epochs, arm, args.sleep_ms / 1e3))
        loads.append(os.getloadavg()[0])
    print(f"{args.job} {'-'.join(map(str, sizes))}, {epochs} epochs, every epoch saved in the background at share 1; "
          f"{args.repeats} rounds, load average {min(loads):.1f}-{max(loads):.1f}, {os.cpu_count()} cores (shared)")
    summary = {}
    for arm in ARMS[1:]:
        per = [1e3 * (c["thread"] - n["thread"]) / max(c["written"], 1) for n, c in zip(runs["none"], runs[arm])]
        med, q1, q3, lo, hi = summary[arm] = _spread(per)
        written = _spread([c["written"] for c in runs[arm]])
        print(f"{arm:<25} training thread CPU per checkpoint written {med:.2f} ms [{q1:.2f}-{q3:.2f}] "
              f"({lo:.2f}-{hi:.2f}); written {written[0]:.0f} of {epochs}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"job": args.job, "epochs": epochs, "repeats": args.repeats, "sleep_ms": args.sleep_ms,
                       "load_average": [min(loads), max(loads)], "ms_per_written": summary, "runs": runs}, f, indent=1)


if __name__ == "__main__":
    main()
