"""deepnets.fit at two git revisions of this repository, side by side on the digits MLP job.

Each revision's ``src/`` is exported (``git archive``) into a temp folder; the job then runs in
fresh interpreters that alternate between the two (A B A B ...), so a busy neighbour slows both
alike. Prints the median CPU time per fit (``time.process_time``: waits for a core on a loaded machine
not counted) of each and the ratio B / A. The job is bench_mlp.py's digits
job (64-100-10 ReLU, softmax cross-entropy, Adam 1e-3, batch 200, 200 epochs, 1 thread).

    python benchmarks/bench_revisions.py REV_A REV_B [--rounds 7] [--fits 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile

JOB = r"""
import json, sys, time, torch
torch.set_num_threads(1)
import deepnets
from deepnets.data import Scaler, load_dataset, split
d = load_dataset("digits")
s = split(d, (0.8, 0.0, 0.2), seed=0)
sc = Scaler.fit(s.train[0])
x, y, xt, yt = sc(s.train[0]), s.train[1], sc(s.test[0]), s.test[1]
epochs, fits = int(sys.argv[1]), int(sys.argv[2])
def once(seed, epochs):
    net = deepnets.MLP([64, 100, 10], activation="relu", output="softmax", seed=seed, init="xavier_bias")
    t = time.process_time()
    deepnets.fit(net, (x, y), loss="cross_entropy", optimizer="adam", lr=1e-3, epochs=epochs, batch_size=200,
                 seed=seed)
    dt = time.process_time() - t
    acc = float((net(xt).argmax(1) == yt).float().mean())
    return dt, acc
once(0, 2)  # warm-up
out = [once(r, epochs) for r in range(fits)]
print(json.dumps(out))
"""


def export(rev: str, into: str) -> str:
    """``src/`` of ``rev`` unpacked under ``into``; returns the path to put on PYTHONPATH."""
    tar = os.path.join(into, "src.tar")
    with open(tar, "wb") as fh:
        subprocess.run(["git", "archive", rev, "src"], check=True, stdout=fh)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    return os.path.join(into, "src")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rev_a")
    ap.add_argument("rev_b")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--fits", type=int, default=3, help="timed fits per interpreter")
    ap.add_argument("--epochs", type=int, default=200)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for rev in (args.rev_a, args.rev_b):
            folder = os.path.join(tmp, str(len(paths)))
            os.makedirs(folder)
            paths[rev] = export(rev, folder)
        times = {rev: [] for rev in paths}
        accs = {rev: [] for rev in paths}
        for _ in range(args.rounds):
            for rev, src in paths.items():  # interleaved: A B A B ...
                env = dict(os.environ, PYTHONPATH=src, OMP_NUM_THREADS="1")
                out = subprocess.run([sys.executable, "-c", JOB, str(args.epochs), str(args.fits)], env=env,
                                     check=True, capture_output=True, text=True).stdout
                for dt, acc in json.loads(out.strip().splitlines()[-1]):
                    times[rev].append(dt)
                    accs[rev].append(acc)
    med = {rev: statistics.median(v) for rev, v in times.items()}
    print(f"digits 64-100-10, {args.epochs} epochs, batch 200, Adam, 1 thread; "
          f"{args.rounds} rounds x {args.fits} fits, interleaved")
    for rev in paths:
        print(f"{rev:<24} median {med[rev]:.3f} s  (min {min(times[rev]):.3f}, max {max(times[rev]):.3f})  "
              f"accuracy {statistics.median(accs[rev]):.4f}")
    print(f"ratio {args.rev_b} / {args.rev_a}: {med[args.rev_b] / med[args.rev_a]:.3f}")


if __name__ == "__main__":
    sys.exit(main())
