"""The same scikit-learn job through sklearn.neural_network.MLPClassifier and deepnets.sklearn.MLPClassifier.

One process, interleaved (A B A B ...), so a busy neighbour slows both alike; the table gives the
median fit time, the median test accuracy and the time ratio.

    python benchmarks/bench_sklearn_api.py [--repeats 5] [--epochs 200] [--threads 1]
        [--out benchmarks/results/sklearn_api.json]

The job: ``make_pipeline(StandardScaler(), MLPClassifier(...))`` fitted on 80% of scikit-learn's
digits (stratified split, seed 0) and scored on the rest; 64-100-10, ReLU, Glorot-uniform weights
and biases in both, softmax cross-entropy, Adam (η = 1e-3), batch 200, no penalty, a fixed number
of epochs (no early stopping); repeat r uses random_state = r in both.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLP
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deepnets.sklearn import MLPClassifier as DnMLP
from _results import write_json
from _threads import limit_threads


def sklearn_pipe(epochs: int, seed: int):
    return make_pipeline(StandardScaler(), SkMLP((100,), activation="relu", solver="adam", learning_rate_init=1e-3,
                                                 batch_size=200, max_iter=epochs, alpha=0.0, tol=0.0,
                                                 n_iter_no_change=10 ** 9, random_state=seed))


def deepnets_pipe(epochs: int, seed: int):
    return make_pipeline(StandardScaler(), DnMLP((100,), activation="relu", init="xavier_bias", optimizer="adam",
                                                 learning_rate=1e-3, batch_size=200, max_iter=epochs,
                                                 random_state=seed))


PEERS = {"sklearn.neural_network": sklearn_pipe, "deepnets.sklearn": deepnets_pipe}


def run(make, data, epochs: int, seed: int) -> tuple[float, float]:
    xtr, xte, ytr, yte = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "maximum iterations reached", "fewer than 10 examples per weight"
        t = time.perf_counter()
        pipe = make(epochs, seed).fit(xtr, ytr)
        dt = time.perf_counter() - t
    return dt, float(pipe.score(xte, yte))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "sklearn_api.json"))
    args = ap.parse_args(argv)
    limit_threads(args.threads)
    X, y = load_digits(return_X_y=True)
    data = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    for make in PEERS.values():  # warm-up: imports, first-call allocations
        run(make, data, 2, 0)
    times = {p: [] for p in PEERS}
    accs = {p: [] for p in PEERS}
    for r in range(args.repeats):
        for peer, make in PEERS.items():  # interleaved: A B A B ...
            dt, acc = run(make, data, args.epochs, r)
            times[peer].append(dt)
            accs[peer].append(acc)
    med = {p: statistics.median(v) for p, v in times.items()}
    base = "sklearn.neural_network"
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared)",
               "threads": args.threads, "torch": torch.__version__, "python": platform.python_version(),
               "repeats": args.repeats, "epochs": args.epochs, "batch": 200,
               "job": "digits 64-100-10 in a StandardScaler pipeline, Adam 1e-3, 80/20 stratified split",
               "peers": {p: {"median_s": round(med[p], 4), "times_s": [round(t, 4) for t in times[p]],
                             "accuracy_median": round(statistics.median(accs[p]), 4),
                             "accuracies": [round(a, 4) for a in accs[p]],
                             "ratio_to_sklearn": round(med[p] / med[base], 3)} for p in PEERS}}
    print(f"digits 64-100-10 pipeline: {args.epochs} epochs, batch 200, Adam, {args.threads} thread(s), "
          f"median of {args.repeats}")
    print(f"{'estimator':<24} {'fit (s)':>8} {'vs sklearn':>11} {'test accuracy':>14}")
    for p in PEERS:
        print(f"{p:<24} {med[p]:>8.3f} {med[p] / med[base]:>10.2f}x {statistics.median(accs[p]):>14.4f}")
    write_json(args.out, results)


if __name__ == "__main__":
    sys.exit(main())
