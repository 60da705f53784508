"""Bernoulli RBMs on the binarised digits: deepnets' CD-1, CD-k and PCD beside scikit-learn's
``BernoulliRBM`` (which trains by PCD, "stochastic maximum likelihood"), with the same hidden size,
epochs, batch size, learning rate and initial weights N(0, 0.01²).

One process, one thread, interleaved (A B C D A B C D ...), so a busy neighbour slows every peer
alike; repeat r uses seed r everywhere (the split stays fixed: 70/30, stratified, seed 0). Pixels
are binarised as pixel > 8 (of 16).

    python benchmarks/bench_rbm.py [--repeats 5] [--epochs 20] [--hidden 100] [--batch-size 10]
        [--lr 0.1] [--k 10] [--dtype float64] [--threads 1] [--out benchmarks/results/rbm_digits.json]

Score: the mean log pseudo-likelihood of the held-out images, Σ_i log p(v_i | v_−i) over all 64
bits, exactly (``BernoulliRBM.log_pseudo_likelihood``; scikit-learn's weights are copied into ours
to score them the same way); scikit-learn's own ``score_samples`` (one random bit per image) is
its unbiased estimate, reported beside it for scikit-learn. Higher is better. Time: the training
call divided by the epochs, median over repeats, as wall-clock time and as this process's CPU time
(on a shared, loaded machine the CPU time is the steadier of the two).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import BernoulliRBM as SkRBM

from deepnets.nn import BernoulliRBM
from deepnets.train import train_rbm
from _results import write_json
from _threads import limit_threads


def data():
    X, y = load_digits(return_X_y=True)
    X = (X > 8).astype(np.float64)
    xtr, xte, _, _ = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    return xtr, xte


def _clock():
    """Starts a clock; calling it returns (wall seconds, this process's CPU seconds) since then."""
    wall, cpu = time.perf_counter(), time.process_time()
    return lambda: (time.perf_counter() - wall, time.process_time() - cpu)


def ours(k: int, persistent: bool):
    def run(xtr, args, seed):
        dtype = getattr(torch, args.dtype)
        x = torch.from_numpy(xtr).to(dtype)
        rbm = BernoulliRBM(x.shape[1], args.hidden, generator=torch.Generator().manual_seed(seed), dtype=dtype)
        clock = _clock()
        train_rbm(rbm, x, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, k=k,
                  persistent=persistent, seed=seed)
        return clock(), rbm, None
    return run


def sklearn_pcd(xtr, args, seed):
    sk = SkRBM(n_components=args.hidden, learning_rate=args.lr, batch_size=args.batch_size, n_iter=args.epochs,
               random_state=seed)
    x = xtr.astype(args.dtype)
    clock = _clock()
    sk.fit(x)
    dt = clock()
    rbm = BernoulliRBM(x.shape[1], args.hidden, dtype=torch.float64)
    with torch.no_grad():
        rbm.weight.copy_(torch.from_numpy(sk.components_))
        rbm.hidden_bias.copy_(torch.from_numpy(sk.intercept_hidden_))
        rbm.visible_bias.copy_(torch.from_numpy(sk.intercept_visible_))
    return dt, rbm, sk


def score(rbm, xte) -> float:
    with torch.no_grad():
        return float(rbm.to(torch.float64).log_pseudo_likelihood(torch.from_numpy(xte)).mean())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--k", type=int, default=10, help="Gibbs steps of the CD-k peer")
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "rbm_digits.json"))
    args = ap.parse_args(argv)
    limit_threads(args.threads)
    xtr, xte = data()
    peers = {"deepnets CD-1": ours(1, False), f"deepnets CD-{args.k}": ours(args.k, False),
             "deepnets PCD-1": ours(1, True), "scikit-learn PCD": sklearn_pcd}
    warm = argparse.Namespace(**{**vars(args), "epochs": 1})
    for run in peers.values():  # warm-up: imports, first-call allocations
        run(xtr[:100], warm, 0)
    times = {p: [] for p in peers}
    cpu = {p: [] for p in peers}
    scores = {p: [] for p in peers}
    sk_own = []
    for seed in range(args.repeats):
        for name, run in peers.items():  # interleaved: A B C D A B C D ...
            (wall, cpu_s), rbm, sk = run(xtr, args, seed)
            times[name].append(wall / args.epochs)
            cpu[name].append(cpu_s / args.epochs)
            scores[name].append(score(rbm, xte))
            if sk is not None:
                sk_own.append(float(sk.score_samples(xte.astype(args.dtype)).mean()))
    base = statistics.median(times["scikit-learn PCD"])
    base_cpu = statistics.median(cpu["scikit-learn PCD"])
    table = {p: {"epoch_s_median": round(statistics.median(times[p]), 5),
                 "epoch_s": [round(t, 5) for t in times[p]],
                 "time_vs_sklearn": round(statistics.median(times[p]) / base, 2),
                 "epoch_cpu_s_median": round(statistics.median(cpu[p]), 5),
                 "epoch_cpu_s": [round(t, 5) for t in cpu[p]],
                 "cpu_vs_sklearn": round(statistics.median(cpu[p]) / base_cpu, 2),
                 "pl_mean": round(statistics.mean(scores[p]), 3),
                 "pl_sd": round(statistics.stdev(scores[p]), 3) if len(scores[p]) > 1 else 0.0,
                 "pl": [round(s, 3) for s in scores[p]]} for p in peers}
    table["scikit-learn PCD"]["score_samples_mean"] = round(statistics.mean(sk_own), 3)
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared)",
               "load_avg_1min": round(os.getloadavg()[0], 1), "threads": args.threads,
               "torch": torch.__version__, "python": platform.python_version(),
               "settings": {"hidden": args.hidden, "epochs": args.epochs, "batch_size": args.batch_size,
                            "lr": args.lr, "k": args.k, "dtype": args.dtype, "repeats": args.repeats,
                            "train": int(xtr.shape[0]), "test": int(xte.shape[0])},
               "score": "mean exact log pseudo-likelihood of the test images (64 bits), higher is better",
               "peers": table}
    print(f"binarised digits (pixel > 8), {xtr.shape[0]} train / {xte.shape[0]} test, {args.hidden} hidden, "
          f"{args.epochs} epochs, batch {args.batch_size}, lr {args.lr}, {args.dtype}, {args.threads} thread(s), "
          f"{args.repeats} seeds (time: median; PL: mean ± sd)")
    print(f"{'peer':<18} {'s/epoch':>8} {'vs sklearn':>10} {'cpu s/epoch':>11} {'vs sklearn':>10} {'test log-PL':>16}")
    for p, row in table.items():
        print(f"{p:<18} {row['epoch_s_median']:>8.4f} {row['time_vs_sklearn']:>9.2f}x "
              f"{row['epoch_cpu_s_median']:>11.4f} {row['cpu_vs_sklearn']:>9.2f}x "
              f"{row['pl_mean']:>9.3f} ± {row['pl_sd']:.3f}")
    print(f"scikit-learn's own score_samples (one random bit): {table['scikit-learn PCD']['score_samples_mean']:.3f}")
    write_json(args.out, results)


if __name__ == "__main__":
    sys.exit(main())
