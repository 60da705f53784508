"""What a checkpoint every epoch costs on the digits job, and how big one is.

The README's digits job (``bench_mlp.py``: 64-100-10, ReLU, softmax cross-entropy, Adam lr 1e-3,
batch 200, 80/20 split, 8 batches an epoch) trained with no checkpoint, with a ``Checkpointer``
saving every epoch (keep 3), and with one saving every epoch in the background
(``background=True``; and with ``share=1``, no rest between writes, where the tree has it), interleaved
(none, every epoch, background, none, ...), in CPU time
(``time.process_time``, every thread of the process) and wall time, one torch thread. A run's
time includes waiting for its last checkpoint to be on disk. Printed: the medians with min-max,
the overhead (median of the per-round ratios, with their min-max), the checkpoint's bytes against
its raw tensor bytes (weights + Adam's moments), where one save's wall time goes (snapshot,
header and SHA-256, writes, fsyncs, rename, prune, the rest) from timers wrapped around those
calls, and in the background mode the training thread's time a save against the writer's.

``--src DIR`` (repeatable) times the deepnets source tree(s) ``DIR`` as well, each in its own
worker process, the workers interleaved, so a tree before a change and the tree after it are
measured in one run under the same load:

    git archive main src | tar -x -C /tmp/before
    python benchmarks/bench_checkpoint.py --src /tmp/before/src --src src [--epochs 200 --repeats 5]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))


def _data():
    from deepnets.data import Scaler, load_dataset, split

    s = split(load_dataset("digits"), (0.8, 0.0, 0.2), seed=0)
    sc = Scaler.fit(s.train[0])
    return sc(s.train[0]), s.train[1]


def _fit(x, y, epochs, run_dir, background=False, share=None):
    import deepnets
    from deepnets.train.callbacks import Checkpointer

    net = deepnets.MLP([64, 100, 10], activation="relu", output="softmax", seed=0, init="xavier_bias")
    import inspect

    # (a tree before the option: never asked; since round two the default is True: False asked)
    options = {"background": background} if "background" in inspect.signature(Checkpointer).parameters else {}
    if share is not None:  # (a tree with train.checkpoint.share)
        options["share"] = share
    callbacks = [] if run_dir is None else [Checkpointer(run_dir, every_epochs=1, keep=3, **options)]
    cpu, wall = time.process_time(), time.perf_counter()
    deepnets.fit(net, (x, y), loss="cross_entropy", optimizer="adam", lr=1e-3, epochs=epochs,
                 batch_size=200, seed=0, callbacks=callbacks)  # fit returns after the last save is on disk
    return time.process_time() - cpu, time.perf_counter() - wall, net


class Timers:
    """Wall time spent inside wrapped functions, by category (re-entrant calls counted once)."""

    def __init__(self):
        self.total, self.calls, self.depth = {}, {}, 0

    def wrap(self, owner, name, category):
        real = getattr(owner, name, None)
        if real is None:
            return
        timers = self

        @functools.wraps(real)
        def timed(*args, **kwargs):
            if timers.depth:
                return real(*args, **kwargs)
            timers.depth += 1
            t = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                timers.total[category] = timers.total.get(category, 0.0) + time.perf_counter() - t
                timers.calls[category] = timers.calls.get(category, 0) + 1
                timers.depth -= 1
        setattr(owner, name, timed)


def _breakdown(x, y, epochs):
    """Wall seconds per save by part, timed around the calls a save makes (old and new trees), in
    one go on the training thread."""
    import deepnets.train.callbacks.checkpointer as cp
    import deepnets.train.checkpoint as ck
    import deepnets.train.checkpoint_snapshot as cs
    from deepnets.train.callbacks import Checkpointer

    t = Timers()
    saves = {"n": 0, "s": 0.0}
    real_save = Checkpointer.save

    def save(self):
        w = time.perf_counter()
        out = real_save(self)
        flush = getattr(self, "flush", None)
        if flush is not None:  # a background writer: time the whole save, waited for
            flush()
        saves["n"] += 1
        saves["s"] += time.perf_counter() - w
        return out
    Checkpointer.save = save
    snapshot_owner, snapshot_name = (cs.SnapshotTaker, "__call__") if hasattr(cs, "SnapshotTaker") else (
        cp if hasattr(cp, "snapshot") else ck, "snapshot")
    for owner, name, cat in [(os, "fsync", "fsync"), (os, "rename", "rename"), (os, "replace", "rename"),
                             (ck, "serialize", "serialise"), (snapshot_owner, snapshot_name, "snapshot"),
                             (ck, "encode", "serialise"), (cs.Snapshot, "encode", "header + SHA-256"),
                             (ck, "read_manifest", "manifest reads and checks"),
                             (ck, "read_verified", "manifest reads and checks"),
                             (os, "write", "write"), (os, "mkdir", "mkdir"), (os, "unlink", "prune"),
                             (ck.CheckpointManager, "_prune", "prune")]:
        t.wrap(owner, name, cat)
    with tempfile.TemporaryDirectory() as run:
        _fit(x, y, epochs, run)
    Checkpointer.save = real_save
    n = max(saves["n"], 1)
    parts = {k: v / n for k, v in t.total.items()}
    parts["rest (loop state, listing, hashing, ...)"] = saves["s"] / n - sum(parts.values())
    return {"save_ms": 1e3 * saves["s"] / n, "parts_ms": {k: round(1e3 * v, 3) for k, v in parts.items()},
            "fsyncs_per_save": t.calls.get("fsync", 0) / n}


def _background_split(x, y, epochs):
    """With ``background=True``: the training thread's wall time in each save (the snapshot and the
    hand-over), the writer's in each write, and how many snapshots a newer one superseded."""
    import inspect

    from deepnets.train.callbacks import Checkpointer
    from deepnets.train.checkpoint import CheckpointManager

    if "background" not in inspect.signature(Checkpointer).parameters:
        return None
    on_training, on_writer = [], []
    # every save point (a tree with save_point: those that copy nothing too), else every save
    hook = "save_point" if hasattr(Checkpointer, "save_point") else "save"
    real_save, real_write = getattr(Checkpointer, hook), CheckpointManager.write

    def save(self, *args):
        w = time.perf_counter()
        try:
            return real_save(self, *args)
        finally:
            on_training.append(time.perf_counter() - w)

    def write(self, *args):
        w = time.perf_counter()
        try:
            return real_write(self, *args)
        finally:
            on_writer.append(time.perf_counter() - w)
    setattr(Checkpointer, hook, save)
    CheckpointManager.write = write
    with tempfile.TemporaryDirectory() as run:
        import deepnets

        net = deepnets.MLP([64, 100, 10], activation="relu", output="softmax", seed=0, init="xavier_bias")
        saver = Checkpointer(run, every_epochs=1, keep=3, background=True)
        deepnets.fit(net, (x, y), loss="cross_entropy", optimizer="adam", lr=1e-3, epochs=epochs,
                     batch_size=200, seed=0, callbacks=[saver])
    setattr(Checkpointer, hook, real_save)
    CheckpointManager.write = real_write
    return {"training_thread_ms": 1e3 * statistics.median(on_training),
            "training_thread_mean_ms": 1e3 * statistics.mean(on_training),
            "writer_ms": 1e3 * statistics.median(on_writer) if on_writer else None,
            "saves": len(on_training), "written": len(on_writer), "skipped": saver.skipped}


def _sizes(x, y):
    """The newest checkpoint's bytes on disk against the raw bytes of weights + Adam moments."""
    from deepnets.train.callbacks import Checkpointer

    with tempfile.TemporaryDirectory() as run:
        _, _, net = _fit(x, y, 5, run)
        top = os.path.join(run, "checkpoints")
        newest = max(os.path.join(top, n) for n in os.listdir(top) if not n.startswith("."))
        if os.path.isdir(newest):  # format 1: a folder of three files
            files = {f: os.path.getsize(os.path.join(newest, f)) for f in sorted(os.listdir(newest))}
        else:
            files = {os.path.basename(newest): os.path.getsize(newest)}
    del Checkpointer
    weights = sum(p.numel() * p.element_size() for p in net.state_dict().values())
    return {"files": files, "checkpoint_bytes": sum(files.values()), "weights_bytes": weights,
            "raw_bytes": 3 * weights}  # Adam: the weights, m and v (plus a step count per tensor)


def worker(args):
    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(1)
    x, y = _data()
    _fit(x, y, 2, None)  # warm-up: first-call allocations
    with tempfile.TemporaryDirectory() as run:
        _fit(x, y, 2, run)
    import inspect
    from deepnets.train.callbacks import Checkpointer

    out = {"none": [], "every epoch": []}
    if "background" in inspect.signature(Checkpointer).parameters:
        out["every epoch, background"] = []
    if "share" in inspect.signature(Checkpointer).parameters:  # every save the disk keeps up with written
        out["every epoch, background, share 1"] = []
    for _ in range(args.repeats):
        for mode in out:  # interleaved
            with tempfile.TemporaryDirectory() as run:
                cpu, wall, _ = _fit(x, y, args.epochs, None if mode == "none" else run, "background" in mode,
                                    1.0 if mode.endswith("share 1") else None)
            out[mode].append([cpu, wall])
    out["sizes"] = _sizes(x, y)
    out["breakdown"] = _breakdown(x, y, min(args.epochs, 50))
    out["background"] = _background_split(x, y, min(args.epochs, 50))
    print(json.dumps(out))


def _stats(v):
    return f"{statistics.median(v):7.3f} [{min(v):.3f}-{max(v):.3f}]"


def report(src, rounds):
    none = [r for w in rounds for r in w["none"]]
    print(f"\n== {src}")
    for k, name in ((0, "CPU s"), (1, "wall s")):
        print(f"{name:<7} no checkpoint {_stats([r[k] for r in none])}")
        for mode in [m for m in rounds[0] if m.startswith("every")]:
            ck = [r for w in rounds for r in w[mode]]
            ratios = [c[k] / n[k] for n, c in zip(none, ck)]
            print(f"{'':<7} {mode:<33} {_stats([r[k] for r in ck])}   overhead {100 * (statistics.median(ratios) - 1):+.1f}%"
                  f" [{100 * (min(ratios) - 1):+.1f}-{100 * (max(ratios) - 1):+.1f}%]")
    s = rounds[-1]["sizes"]
    print(f"size    {s['checkpoint_bytes']} bytes {s['files']}; weights {s['weights_bytes']}, weights + Adam "
          f"moments {s['raw_bytes']}: {s['checkpoint_bytes'] / s['raw_bytes']:.2f}x")
    b = rounds[-1]["breakdown"]
    print(f"one save {b['save_ms']:.2f} ms wall, {b['fsyncs_per_save']:.0f} fsyncs: " + ", ".join(f"{k} {v:.2f}" for k, v in b["parts_ms"].items()))
    g = rounds[-1].get("background")
    if g:
        mean = f", {g['training_thread_mean_ms']:.3f} mean" if "training_thread_mean_ms" in g else ""
        print(f"background: {g['training_thread_ms']:.3f} ms on the training thread a save (median{mean}), "
              f"{g['writer_ms']:.3f} ms a write on the writer; {g['saves']} saves, {g['written']} written, "
              f"{g['skipped']} superseded or not copied")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3, help="rounds (none, every epoch) per worker")
    ap.add_argument("--workers", type=int, default=2, help="worker processes per source tree, interleaved")
    ap.add_argument("--src", action="append", default=[], help="a deepnets source tree (default: this one)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help="also write the results as JSON here")
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    srcs = [os.path.abspath(s) for s in args.src] or [os.path.join(HERE, "..", "src")]
    results = {s: [] for s in srcs}
    loads = [os.getloadavg()[0]]
    for _ in range(args.workers):
        for src in srcs:  # interleaved: tree A, tree B, tree A, ...
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, HERE]), "OMP_NUM_THREADS": "1"}
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--epochs", str(args.epochs),
                   "--repeats", str(args.repeats)]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            results[src].append(json.loads(done.stdout.strip().splitlines()[-1]))
            loads.append(os.getloadavg()[0])
    print(f"digits 64-100-10, Adam, batch 200, {args.epochs} epochs, 1 thread; {args.workers} workers x "
          f"{args.repeats} rounds per tree; load average {min(loads):.1f}-{max(loads):.1f} (sampled between "
          f"workers), {os.cpu_count()} cores (shared)")
    for src, rounds in results.items():
        report(src, rounds)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"load_average": [min(loads), max(loads)], "epochs": args.epochs, "workers": args.workers,
                       "repeats": args.repeats, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
