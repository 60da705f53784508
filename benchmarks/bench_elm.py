"""The extreme learning machine beside the MLP trained by deepnets.fit and beside scikit-learn's
random-features ridge, on the digits (classification) and diabetes (regression); and how the ELM's
test score grows with the number of hidden units K.

One process, interleaved (A B C A B C ...), so a busy neighbour slows every peer alike; repeat r
uses seed r everywhere (the split stays fixed: 70/30, stratified for the digits, seed 0).

    python benchmarks/bench_elm.py [--repeats 3] [--epochs 200] [--k 1000] [--ks 50,100,200,500,1000,2000]
        [--threads 1] [--out benchmarks/results/elm.json]

The peers, each in a ``StandardScaler`` pipeline:

- ``ELM``: :class:`deepnets.sklearn.ELMClassifier` / ``ELMRegressor``, K tanh units, ridge output
  weights with λ by GCV (closed form, one SVD).
- ``MLP (deepnets.fit)``: :class:`deepnets.sklearn.MLPClassifier` / ``MLPRegressor``, one hidden
  layer of 100 ReLU units, Adam (η = 1e-3), batch 200, a fixed number of epochs; the regression
  target is standardised (``TransformedTargetRegressor``).
- ``RBFSampler + RidgeCV``: scikit-learn's nearest equivalent, K random Fourier features of the RBF
  kernel (γ = 1/F on standardised inputs) and ``RidgeClassifierCV`` / ``RidgeCV`` over
  λ ∈ 10^[−4, 4] (efficient leave-one-out).

Scores: test accuracy (digits), test R² (diabetes). Times: the pipeline's ``fit``, median over repeats.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes, load_digits
from sklearn.kernel_approximation import RBFSampler
from sklearn.linear_model import RidgeClassifierCV, RidgeCV
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deepnets.sklearn import ELMClassifier, ELMRegressor, MLPClassifier, MLPRegressor
from _results import write_json
from _threads import limit_threads

ALPHAS = np.logspace(-4, 4, 17)


def elm(task: str, k: int, seed: int, epochs: int):
    est = ELMClassifier(k, random_state=seed) if task == "classification" else ELMRegressor(k, random_state=seed)
    return make_pipeline(StandardScaler(), est)


def mlp(task: str, k: int, seed: int, epochs: int):
    options = dict(activation="relu", optimizer="adam", learning_rate=1e-3, batch_size=200, max_iter=epochs,
                   random_state=seed)
    if task == "classification":
        return make_pipeline(StandardScaler(), MLPClassifier((100,), **options))
    return make_pipeline(StandardScaler(), TransformedTargetRegressor(MLPRegressor((100,), **options),
                                                                      transformer=StandardScaler()))


def rbf_ridge(task: str, k: int, seed: int, epochs: int):
    ridge = RidgeClassifierCV(alphas=ALPHAS) if task == "classification" else RidgeCV(alphas=ALPHAS)
    return make_pipeline(StandardScaler(), RBFSampler(gamma="scale", n_components=k, random_state=seed), ridge)


PEERS = {"ELM": elm, "MLP (deepnets.fit)": mlp, "RBFSampler + RidgeCV": rbf_ridge}


def datasets():
    X, y = load_digits(return_X_y=True)
    digits = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    X, y = load_diabetes(return_X_y=True)
    diabetes = train_test_split(X, y, test_size=0.3, random_state=0)
    return {"digits": ("classification", digits), "diabetes": ("regression", diabetes)}


def run(make, task, data, k: int, seed: int, epochs: int) -> tuple[float, float]:
    xtr, xte, ytr, yte = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "fewer than 10 examples per weight"
        t = time.perf_counter()
        pipe = make(task, k, seed, epochs).fit(xtr, ytr)
        dt = time.perf_counter() - t
    return dt, float(pipe.score(xte, yte))


def _summary(times, scores) -> dict:
    return {"median_s": round(statistics.median(times), 4), "times_s": [round(t, 4) for t in times],
            "score_mean": round(statistics.mean(scores), 4),
            "score_sd": round(statistics.stdev(scores), 4) if len(scores) > 1 else 0.0,
            "scores": [round(s, 4) for s in scores]}


def head_to_head(sets, args) -> dict:
    out = {}
    for name, (task, data) in sets.items():
        times = {p: [] for p in PEERS}
        scores = {p: [] for p in PEERS}
        for r in range(args.repeats):
            for peer, make in PEERS.items():  # interleaved: A B C A B C ...
                dt, score = run(make, task, data, args.k, r, args.epochs)
                times[peer].append(dt)
                scores[peer].append(score)
        base = statistics.median(times["ELM"])
        out[name] = {p: {**_summary(times[p], scores[p]), "time_vs_elm": round(statistics.median(times[p]) / base, 2)}
                     for p in PEERS}
    return out


def k_sweep(sets, args) -> dict:
    ks = [int(k) for k in args.ks.split(",")]
    out = {}
    for name, (task, data) in sets.items():
        rows = {p: {k: ([], []) for k in ks} for p in ("ELM", "RBFSampler + RidgeCV")}
        for r in range(args.repeats):
            for k in ks:
                for peer in rows:  # interleaved at each K
                    dt, score = run(PEERS[peer], task, data, k, r, args.epochs)
                    rows[peer][k][0].append(dt)
                    rows[peer][k][1].append(score)
        out[name] = {p: {str(k): _summary(*rows[p][k]) for k in ks} for p in rows}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--k", type=int, default=1000, help="hidden units / random features in the head-to-head")
    ap.add_argument("--ks", default="50,100,200,500,1000,2000")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "elm.json"))
    args = ap.parse_args(argv)
    limit_threads(args.threads)
    sets = datasets()
    for task, data in sets.values():  # warm-up: imports, first-call allocations
        for make in PEERS.values():
            run(make, task, data, 50, 0, 2)
    results = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared)",
               "threads": args.threads, "torch": torch.__version__, "python": platform.python_version(),
               "repeats": args.repeats, "epochs": args.epochs, "k": args.k,
               "scores": "test accuracy (digits), test R² (diabetes); 70/30 split, seed 0",
               "head_to_head": head_to_head(sets, args), "k_sweep": k_sweep(sets, args)}
    print(f"head to head: K = {args.k}, MLP 100 ReLU units {args.epochs} epochs, {args.threads} thread(s), "
          f"{args.repeats} seeds (time: median; score: mean ± sd)")
    print(f"{'data':<9} {'peer':<22} {'fit (s)':>8} {'vs ELM':>7} {'score':>16}")
    for name, peers in results["head_to_head"].items():
        for p, row in peers.items():
            print(f"{name:<9} {p:<22} {row['median_s']:>8.3f} {row['time_vs_elm']:>6.2f}x "
                  f"{row['score_mean']:>9.4f} ± {row['score_sd']:.4f}")
    print("score against K (mean over seeds; fit time median in brackets)")
    for name, peers in results["k_sweep"].items():
        for p, rows in peers.items():
            cells = "  ".join(f"K={k}: {r['score_mean']:.4f} ({r['median_s']:.2f}s)" for k, r in rows.items())
            print(f"{name:<9} {p:<22} {cells}")
    write_json(args.out, results)


if __name__ == "__main__":
    sys.exit(main())
