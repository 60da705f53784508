"""What a checkpoint every epoch costs, how stale the background writer leaves the disk, how big one is.

Jobs (``--job``): ``digits``, the README's (``bench_mlp.py``: 64-100-10, ReLU, softmax
cross-entropy, Adam lr 1e-3, batch 200, 80/20 split, 8 batches and ~1.7 ms an epoch, 200 epochs);
``digits-1000``, the same at width 1,000 (50 epochs); ``mnist1d``, 40-100-100-10 on MNIST-1D's
3,200 training examples (16 batches an epoch, 100 epochs). Arms: no checkpoint; a ``Checkpointer``
saving every epoch (keep 3) in one go (``background=False``); in the background at the default
share; in the background with ``share=1`` (no rest: every save the disk keeps up with written).

Method: one torch thread; each worker process first runs every arm once and discards it (imports,
first-call allocations, Numba compiles, the page cache), then ``--repeats`` rounds of every arm,
the arm order rotated by one each round (and each worker starting one further on), so that no arm
always runs first or after another. Timed: CPU time of the process (``time.process_time``: every
thread, the writer's included), of the training thread (``time.thread_time``) and wall time; a
run's time includes waiting for its last checkpoint to be on disk. The overhead of an arm is the
median of its per-round ratios to the no-checkpoint run of the same round (quartiles, min-max).
For each checkpointing arm: how many saves were written; the staleness, the most epochs (and
milliseconds) between two written checkpoints; and the training thread's CPU per written save
(its CPU time less the no-checkpoint run's, over the saves written). Then, once: the checkpoint's
bytes against the raw tensor bytes (weights + Adam's moments), where one save's wall time goes
(snapshot, header and SHA-256, writes, fsyncs, rename, prune, the rest) from timers wrapped
around those calls, and in the background the training thread's time a save point against the
writer's time a write.

``--src DIR`` (repeatable) times the deepnets source tree(s) ``DIR`` as well (trees with
``Checkpointer(background=..., share=...)``), each in its own worker processes, the workers
interleaved, so a tree before a change and the tree after it are measured in one run under the
same load:

    git archive main src | tar -x -C /tmp/before
    OMP_NUM_THREADS=1 python benchmarks/bench_checkpoint.py --src /tmp/before/src --src src
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
#: job -> (dataset, layer sizes, default epochs)
JOBS = {"digits": ("digits", [64, 100, 10], 200), "digits-1000": ("digits", [64, 1000, 10], 50),
        "mnist1d": ("mnist1d", [40, 100, 100, 10], 100)}
ARMS = ("none", "every epoch", "every epoch, background", "every epoch, background, share 1")


def _data(name):
    from deepnets.data import Scaler, load_dataset, split

    d = load_dataset(name)
    s = split(d, (0.8, 0.0, 0.2), seed=0) if d.test is None else split(d, (1.0, 0.0), seed=0)
    sc = Scaler.fit(s.train[0])
    return sc(s.train[0]), s.train[1]


def _train(x, y, sizes, epochs, callbacks):
    import deepnets

    net = deepnets.MLP(sizes, activation="relu", output="softmax", seed=0, init="xavier_bias")
    deepnets.fit(net, (x, y), loss="cross_entropy", optimizer="adam", lr=1e-3, epochs=epochs,
                 batch_size=200, seed=0, callbacks=callbacks)  # fit returns after the last save is on disk
    return net


def _recording_manager(run_dir):
    """A CheckpointManager that notes each checkpoint written: (epoch, perf_counter when done)."""
    from deepnets.train.checkpoint import CheckpointManager

    class Recording(CheckpointManager):
        def write(self, step_name, snap):
            path = super().write(step_name, snap)
            self.written.append((snap.epoch, time.perf_counter()))
            return path

    manager = Recording(run_dir, keep=3)
    manager.written = []
    return manager


def _run(x, y, sizes, epochs, arm):
    """One timed run of ``arm``: its times, and for a checkpointing arm what was written when."""
    from deepnets.train.callbacks import Checkpointer

    with tempfile.TemporaryDirectory() as run:
        callbacks, manager = [], None
        if arm != "none":
            manager = _recording_manager(run)
            options = {"background": "background" in arm, **({"share": 1.0} if arm.endswith("share 1") else {})}
            callbacks = [Checkpointer(manager, every_epochs=1, **options)]
        cpu, thread, wall = time.process_time(), time.thread_time(), time.perf_counter()
        _train(x, y, sizes, epochs, callbacks)
        out = {"cpu": time.process_time() - cpu, "thread": time.thread_time() - thread,
               "wall": time.perf_counter() - wall}
    if manager is not None:
        epochs_written = [e for e, _ in manager.written]
        times = [t for _, t in manager.written]
        out["written"] = len(epochs_written)
        out["stale_epochs"] = max((b - a for a, b in zip(epochs_written, epochs_written[1:])), default=None)
        out["stale_ms"] = max((1e3 * (b - a) for a, b in zip(times, times[1:])), default=None)
    return out


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


def _breakdown(x, y, sizes, epochs):
    """Wall seconds per save by part, timed around the calls a save makes, every save written in
    one go on the training thread."""
    import deepnets.train.checkpoint as ck
    import deepnets.train.checkpoint_snapshot as cs
    from deepnets.train.callbacks import Checkpointer

    t = Timers()
    saves = {"n": 0, "s": 0.0}
    real_save = Checkpointer.save

    def save(self):
        w = time.perf_counter()
        out = real_save(self)
        saves["n"] += 1
        saves["s"] += time.perf_counter() - w
        return out
    Checkpointer.save = save
    for owner, name, cat in [(os, "fsync", "fsync"), (os, "rename", "rename"), (os, "replace", "rename"),
                             (cs.SnapshotTaker, "__call__", "snapshot"), (cs.Snapshot, "encode", "header + SHA-256"),
                             (os, "write", "write"), (os, "mkdir", "mkdir"), (os, "unlink", "prune"),
                             (ck.CheckpointManager, "_prune", "prune")]:
        t.wrap(owner, name, cat)
    with tempfile.TemporaryDirectory() as run:
        _train(x, y, sizes, epochs, [Checkpointer(run, every_epochs=1, keep=3, background=False)])
    Checkpointer.save = real_save
    n = max(saves["n"], 1)
    parts = {k: v / n for k, v in t.total.items()}
    parts["rest (loop state, listing, hashing, ...)"] = saves["s"] / n - sum(parts.values())
    return {"save_ms": 1e3 * saves["s"] / n, "parts_ms": {k: round(1e3 * v, 3) for k, v in parts.items()},
            "fsyncs_per_save": t.calls.get("fsync", 0) / n}


def _background_split(x, y, sizes, epochs, share=None):
    """In the background (at ``share``; None: the default): the training thread's wall time at each
    save point (the snapshot and the hand-over, or nothing while the writer is busy), the writer's
    wall and CPU time in each write (its thread's: what it holds Python's lock for is in there)."""
    from deepnets.train.callbacks import Checkpointer
    from deepnets.train.checkpoint import CheckpointManager

    on_training, on_writer, writer_cpu = [], [], []
    real_save, real_write = Checkpointer.save_point, CheckpointManager.write

    def save(self, *args):
        w = time.perf_counter()
        try:
            return real_save(self, *args)
        finally:
            on_training.append(time.perf_counter() - w)

    def write(self, *args):
        w, c = time.perf_counter(), time.thread_time()
        try:
            return real_write(self, *args)
        finally:
            on_writer.append(time.perf_counter() - w)
            writer_cpu.append(time.thread_time() - c)
    Checkpointer.save_point, CheckpointManager.write = save, write
    with tempfile.TemporaryDirectory() as run:
        saver = Checkpointer(run, every_epochs=1, keep=3, background=True, **({} if share is None else {"share": share}))
        _train(x, y, sizes, epochs, [saver])
    Checkpointer.save_point, CheckpointManager.write = real_save, real_write
    return {"training_thread_ms": 1e3 * statistics.median(on_training),
            "training_thread_mean_ms": 1e3 * statistics.mean(on_training),
            "writer_ms": 1e3 * statistics.median(on_writer) if on_writer else None,
            "writer_cpu_ms": 1e3 * statistics.median(writer_cpu) if writer_cpu else None,
            "saves": len(on_training), "written": len(on_writer), "skipped": saver.skipped}


def _sizes(x, y, sizes):
    """The newest checkpoint's bytes on disk against the raw bytes of weights + Adam moments."""
    from deepnets.train.callbacks import Checkpointer

    with tempfile.TemporaryDirectory() as run:
        net = _train(x, y, sizes, 5, [Checkpointer(run, every_epochs=1, keep=3, background=False)])
        top = os.path.join(run, "checkpoints")
        newest = max(os.path.join(top, n) for n in os.listdir(top) if not n.startswith("."))
        files = {os.path.basename(newest): os.path.getsize(newest)}
    weights = sum(p.numel() * p.element_size() for p in net.state_dict().values())
    return {"files": files, "checkpoint_bytes": sum(files.values()), "weights_bytes": weights,
            "raw_bytes": 3 * weights}  # Adam: the weights, m and v (plus a step count per tensor)


def worker(args):
    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(1)
    dataset, sizes, _ = JOBS[args.job]
    x, y = _data(dataset)
    load = [os.getloadavg()[0]]
    for arm in ARMS:  # warm-up, discarded
        _run(x, y, sizes, args.epochs, arm)
    out = {arm: [] for arm in ARMS}
    for r in range(args.repeats):
        k = (r + args.seat) % len(ARMS)  # rotated: each arm first once in every len(ARMS) rounds
        for arm in ARMS[k:] + ARMS[:k]:
            out[arm].append(_run(x, y, sizes, args.epochs, arm))
        load.append(os.getloadavg()[0])
    out["load"] = load
    out["sizes"] = _sizes(x, y, sizes)
    out["breakdown"] = _breakdown(x, y, sizes, min(args.epochs, 50))
    out["background"] = _background_split(x, y, sizes, min(args.epochs, 50))
    out["background_share_1"] = _background_split(x, y, sizes, args.epochs, share=1.0)
    print(json.dumps(out))


def _spread(v):
    """(median, lower quartile, upper quartile, min, max) of ``v``."""
    q = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else [v[0]] * 3
    return q[1], q[0], q[2], min(v), max(v)


def summary(rounds):
    """Per arm: the medians, the paired overheads (%) and for checkpointing arms what was written."""
    pairs = [(w["none"][i], w[arm][i], arm) for w in rounds for arm in ARMS[1:] for i in range(len(w["none"]))]
    out = {"none": {k: _spread([w["none"][i][k] for w in rounds for i in range(len(w["none"]))])
                    for k in ("cpu", "thread", "wall")}}
    for arm in ARMS[1:]:
        mine = [(n, c) for n, c, a in pairs if a == arm]
        s = {k: _spread([c[k] for _, c in mine]) for k in ("cpu", "thread", "wall")}
        for k in ("cpu", "wall"):
            s[k + "_overhead_pct"] = _spread([100 * (c[k] / n[k] - 1) for n, c in mine])
        s["written"] = _spread([c["written"] for _, c in mine])
        s["thread_ms_per_written"] = _spread([1e3 * (c["thread"] - n["thread"]) / c["written"] for n, c in mine])
        for k in ("stale_epochs", "stale_ms"):
            got = [c[k] for _, c in mine if c[k] is not None]
            s[k] = _spread(got) if got else None
        out[arm] = s
    return out


def _fmt(s, scale=1.0, digits=3, unit=""):
    med, q1, q3, lo, hi = (scale * v for v in s)
    return (f"{med:+.{digits}f}{unit} [{q1:+.{digits}f}..{q3:+.{digits}f}] ({lo:+.{digits}f}..{hi:+.{digits}f})"
            if unit == "%" else f"{med:.{digits}f}{unit} [{q1:.{digits}f}-{q3:.{digits}f}] ({lo:.{digits}f}-{hi:.{digits}f})")


def _med(runs, key):
    return statistics.median(r[key] for r in runs)


def report(src, rounds, epochs):
    s = summary(rounds)
    print(f"\n== {src}   (median [quartiles] (min-max) over {len(rounds) * len(rounds[0]['none'])} rounds)")
    print(f"no checkpoint: CPU {_fmt(s['none']['cpu'])} s, wall {_fmt(s['none']['wall'])} s")
    for arm in ARMS[1:]:
        a = s[arm]
        stale = "" if a["stale_epochs"] is None else (f"; most epochs between two written {a['stale_epochs'][0]:.0f} "
                                                      f"(max {a['stale_epochs'][4]:.0f}), ms {a['stale_ms'][0]:.0f} "
                                                      f"(max {a['stale_ms'][4]:.0f})")
        print(f"{arm}:\n  overhead CPU {_fmt(a['cpu_overhead_pct'], digits=1, unit='%')}, wall "
              f"{_fmt(a['wall_overhead_pct'], digits=1, unit='%')}\n  written {a['written'][0]:.0f} of {epochs} "
              f"({a['written'][3]:.0f}-{a['written'][4]:.0f}){stale}\n  training thread CPU per written save "
              f"{_fmt(a['thread_ms_per_written'], digits=2)} ms")
    z = rounds[-1]["sizes"]
    print(f"size    {z['checkpoint_bytes']} bytes; weights {z['weights_bytes']}, weights + Adam moments "
          f"{z['raw_bytes']}: {z['checkpoint_bytes'] / z['raw_bytes']:.2f}x")
    b = rounds[-1]["breakdown"]
    print(f"one save {b['save_ms']:.2f} ms wall, {b['fsyncs_per_save']:.0f} fsyncs: "
          + ", ".join(f"{k} {v:.2f}" for k, v in b["parts_ms"].items()))
    for key, name in (("background", "background"), ("background_share_1", "background, share 1")):
        g = [w[key] for w in rounds]
        print(f"{name}: {_med(g, 'training_thread_ms'):.3f} ms on the training thread a save point (median, "
              f"{_med(g, 'training_thread_mean_ms'):.3f} mean), a write on the writer {_med(g, 'writer_ms'):.3f} ms "
              f"wall, {_med(g, 'writer_cpu_ms'):.3f} ms CPU; {g[-1]['saves']} save points, {g[-1]['written']} "
              f"written (medians over the {len(g)} workers' runs)")
    return s


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--job", choices=sorted(JOBS), default="digits")
    ap.add_argument("--epochs", type=int, default=None, help="default: the job's (digits 200)")
    ap.add_argument("--repeats", type=int, default=8, help="rounds of every arm per worker")
    ap.add_argument("--workers", type=int, default=2, help="worker processes per source tree, interleaved")
    ap.add_argument("--src", action="append", default=[], help="a deepnets source tree (default: this one)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--seat", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help="also write the results as JSON here")
    args = ap.parse_args(argv)
    args.epochs = args.epochs or JOBS[args.job][2]
    if args.worker:
        return worker(args)
    srcs = [os.path.abspath(s) for s in args.src] or [os.path.join(HERE, "..", "src")]
    results = {s: [] for s in srcs}
    for seat in range(args.workers):
        for src in srcs:  # interleaved: tree A, tree B, tree A, ...
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, HERE]), "OMP_NUM_THREADS": "1"}
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--job", args.job, "--epochs",
                   str(args.epochs), "--repeats", str(args.repeats), "--seat", str(seat)]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            results[src].append(json.loads(done.stdout.strip().splitlines()[-1]))
    loads = [v for rounds in results.values() for w in rounds for v in w["load"]]
    dataset, sizes, _ = JOBS[args.job]
    print(f"{args.job} {'-'.join(map(str, sizes))}, Adam, batch 200, {args.epochs} epochs, 1 thread; {args.workers} "
          f"workers x {args.repeats} rounds per tree, every arm warmed up first, arm order rotated; load average "
          f"{min(loads):.1f}-{max(loads):.1f} (sampled each round), {os.cpu_count()} cores (shared)")
    summaries = {src: report(src, rounds, args.epochs) for src, rounds in results.items()}
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"job": args.job, "sizes": sizes, "epochs": args.epochs, "workers": args.workers,
                       "repeats": args.repeats, "load_average": [min(loads), max(loads)], "cores": os.cpu_count(),
                       "summary": summaries, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
