"""deepnets.fit against scikit-learn's MLPClassifier and a plain PyTorch loop, side by side.

The same job for each peer, run in one process and interleaved (A B C A B C ...) so a busy
neighbour slows all three alike; each fit is timed in CPU time (``time.process_time``: on a
shared, loaded machine wall time counts the waits for a core, CPU time does not; every peer runs
on one thread). The table gives medians with their min-max over the repeats, accuracies, and the
time ratios (medians of the per-round ratios, with their min-max); the load average is printed.
``benchmarks/bench_mlp_independent.py`` checks these ratios with a harness of its own.

    python benchmarks/bench_mlp.py [--repeats 5] [--threads 1] [--out benchmarks/results/mlp_cpu.json]

Jobs (the foundation issue's): the digits MLP 64-100-10 and the MNIST-1D MLP 40-100-100-10,
ReLU hidden units (Glorot-uniform weights and biases in both), softmax cross-entropy, Adam (lr 1e-3), batch 200,
200 epochs; digits split
80/20 with a seed, MNIST-1D with its own 4000/1000 split; inputs standardised on the training part.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings

import torch

import deepnets
from deepnets.data import Scaler, load_dataset, split
from _threads import limit_threads


def job_data(name: str, seed: int = 0):
    d = load_dataset(name)
    s = split(d, (0.8, 0.0, 0.2), seed=seed) if d.test is None else split(d, (1.0, 0.0), seed=seed)
    sc = Scaler.fit(s.train[0])
    return sc(s.train[0]), s.train[1], sc(s.test[0]), s.test[1]


def run_sklearn(xtr, ytr, xte, yte, hidden, epochs, batch, seed):
    from sklearn.neural_network import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "maximum iterations reached": we ask for exactly `epochs`
        t = time.process_time()
        clf = MLPClassifier(hidden, solver="adam", learning_rate_init=1e-3, batch_size=batch, max_iter=epochs,
                            tol=0.0, n_iter_no_change=10 ** 9, alpha=0.0, random_state=seed)
        clf.fit(xtr.numpy(), ytr.numpy())
        dt = time.process_time() - t
    return dt, float(clf.score(xte.numpy(), yte.numpy()))


def run_torch(xtr, ytr, xte, yte, hidden, epochs, batch, seed):
    torch.manual_seed(seed)
    sizes = [xtr.shape[1], *hidden, 10]
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(seed)
    t = time.process_time()
    n = xtr.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        xs, ys = xtr[perm], ytr[perm]
        for i in range(0, n, batch):
            opt.zero_grad()
            lossf(model(xs[i:i + batch]), ys[i:i + batch]).backward()
            opt.step()
    dt = time.process_time() - t
    with torch.no_grad():
        acc = float((model(xte).argmax(1) == yte).float().mean())
    return dt, acc


def run_deepnets(xtr, ytr, xte, yte, hidden, epochs, batch, seed):
    # Glorot-uniform weights and biases, as MLPClassifier draws them (Glorot & Bengio 2010)
    net = deepnets.MLP([xtr.shape[1], *hidden, 10], activation="relu", output="softmax", seed=seed,
                       init="xavier_bias")
    warnings.simplefilter("ignore", deepnets.train.FewExamplesWarning)  # the job's size, known
    t = time.process_time()
    deepnets.fit(net, (xtr, ytr), loss="cross_entropy", optimizer="adam", lr=1e-3, epochs=epochs,
                 batch_size=batch, seed=seed)
    dt = time.process_time() - t
    return dt, deepnets.evaluate(net, xte, yte, loss="cross_entropy", metrics=["accuracy"])["accuracy"]


PEERS = {"scikit-learn": run_sklearn, "plain PyTorch": run_torch, "deepnets.fit": run_deepnets}
JOBS = {"digits 64-100-10": ("digits", (100,)), "MNIST-1D 40-100-100-10": ("mnist1d", (100, 100))}
#: the digits job at other widths (``--widths 256 1000``): does the advantage hold as matmuls grow?
WIDE = {w: (f"digits 64-{w}-10", ("digits", (w,))) for w in (256, 1000)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--widths", type=int, nargs="*", default=[], choices=sorted(WIDE),
                    help="run the digits job at these hidden widths instead of the two jobs")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "mlp_cpu.json"))
    args = ap.parse_args(argv)
    limit_threads(args.threads)
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared)",
               "threads": args.threads, "torch": torch.__version__, "python": platform.python_version(),
               "repeats": args.repeats, "epochs": args.epochs, "batch": 200, "jobs": {}}
    jobs = dict(WIDE[w] for w in args.widths) if args.widths else JOBS
    for job, (name, hidden) in jobs.items():
        data = job_data(name)
        for fn in PEERS.values():  # warm-up: imports, first-call allocations
            fn(*data, hidden, 2, 200, 0)
        times = {p: [] for p in PEERS}
        accs = {p: [] for p in PEERS}
        for r in range(args.repeats):
            for peer, fn in PEERS.items():  # interleaved: A B C A B C ...
                dt, acc = fn(*data, hidden, args.epochs, 200, r)
                times[peer].append(dt)
                accs[peer].append(acc)
        med = {p: statistics.median(v) for p, v in times.items()}
        ratio = {p: [a / b for a, b in zip(times["deepnets.fit"], times[p])]
                 for p in ("scikit-learn", "plain PyTorch")}
        load = os.getloadavg()[0]
        results["jobs"][job] = {p: {"median_s": round(med[p], 4), "times_s": [round(t, 4) for t in times[p]],
                                    "accuracy_median": round(statistics.median(accs[p]), 4),
                                    "ratio_to_sklearn": round(med[p] / med["scikit-learn"], 3)} for p in PEERS}
        results["jobs"][job]["deepnets_ratio"] = {p: {"median": round(statistics.median(r), 3), "min": round(min(r), 3),
                                                      "max": round(max(r), 3)} for p, r in ratio.items()}
        results["jobs"][job]["load_average"] = round(load, 1)
        print(f"\n{job}: {args.epochs} epochs, batch 200, Adam, {args.threads} thread(s), CPU time, "
              f"median [min-max] of {args.repeats}, load average {load:.1f}")
        print(f"{'peer':<15} {'time (s)':>20} {'accuracy':>9}")
        for p in PEERS:
            spread = f"[{min(times[p]):.3f}-{max(times[p]):.3f}]"
            print(f"{p:<15} {med[p]:>7.3f} {spread} {statistics.median(accs[p]):>9.4f}")
        for p, r in ratio.items():
            print(f"deepnets.fit / {p}: {statistics.median(r):.2f}x [{min(r):.2f}-{max(r):.2f}]")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(results, fh, indent=2)
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
