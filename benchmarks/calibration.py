"""Calibration of MAP against Laplace predictive probabilities on digits and breast cancer.

Two bundled scikit-learn datasets (no download): the 8x8 digits (10 classes, a 64-32-10 tanh
MLP with a softmax output) and the Wisconsin breast cancer data (2 classes, a 30-16-1 tanh MLP
with a logistic output). Inputs are standardised on the training part; the split is 60/20/20
(train/validation/test), stratified, seed 0. Each net is trained to the MAP of
Σ_n cross-entropy + (α/2)‖w‖² (α = 1, all weights and biases) by ``deepnets.fit`` (Adam).

Rows, each on the test part: MAP (the network's own probabilities); Laplace with the same α for
the ``full``, ``kron`` and ``last_layer`` approximations, probit (binary) or mean-field (softmax)
moderated; the full Laplace by Monte Carlo (1000 linearised samples); and the full Laplace with its
prior precision chosen from {0.1, 0.3, 1, ..., 3000, 10000} (half decades) by validation NLL ("full, α by val").
Metrics: accuracy, NLL, Brier (multi-class form, Σ_k over the classes), ECE with 15 equal-width
bins (:mod:`deepnets.bayes.calibration`). Writes ``benchmarks/results/calibration.json`` and a
reliability diagram per dataset (``calibration_<dataset>.png``), and prints a table.

    PYTHONPATH=src python benchmarks/calibration.py
"""

from __future__ import annotations

import json
import os
import time

import torch
from sklearn.datasets import load_breast_cancer, load_digits

from deepnets import MLP, fit
from deepnets.bayes import Laplace, calibration_report, class_probabilities
from deepnets.report import reliability_diagram
from deepnets.data import Dataset, Scaler, split

OUT = os.path.join(os.path.dirname(__file__), "results")
ALPHA = 1.0
GRID = [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0]


def prepare(loader, name):
    X, y = loader(return_X_y=True)
    x, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.long)
    ds = Dataset(name=name, x=x, y=y, task="classification", n_classes=int(y.max()) + 1,
                 feature_names=[f"x{i}" for i in range(x.shape[1])], target_names=["class"])
    parts = split(ds, (0.6, 0.2, 0.2), seed=0, stratify=True)
    sc = Scaler.fit(parts.train[0], "standard")
    return [(sc(p[0]).double(), p[1]) for p in (parts.train, parts.val, parts.test)]


def map_probabilities(net, x):
    with torch.no_grad():
        return class_probabilities(net(x))


def run(name, loader, hidden, n_out):
    train, val, test = prepare(loader, name)
    N = len(train[0])
    net = MLP([train[0].shape[1], hidden, n_out], activation="tanh",
              output="softmax" if n_out > 1 else "logistic", seed=0, dtype=torch.float64)
    penalty = lambda model, x: 0.5 * ALPHA / N * sum((p * p).sum() for p in model.parameters())
    t0 = time.perf_counter()
    fit(net, train, loss="cross_entropy", optimizer="adam", lr=3e-3, epochs=150, batch_size=64,
        penalty=penalty, seed=0)
    t_train = time.perf_counter() - t0
    xt, yt = test
    probs = {"MAP": map_probabilities(net, xt)}
    seconds = {}
    for approx in ("full", "kron", "last_layer"):
        t0 = time.perf_counter()
        la = Laplace(net, approx=approx, alpha=ALPHA).fit(train[0])
        probs[f"Laplace {approx}"] = la.predict_proba(xt)
        seconds[f"Laplace {approx}"] = time.perf_counter() - t0
        if approx == "full":
            probs["Laplace full, MC (linearised)"] = la.predict_proba(xt, "mc", n_samples=1000,
                                                         generator=torch.Generator().manual_seed(0))
    best = min(GRID, key=lambda a: calibration_report(
        Laplace(net, approx="full", alpha=a).fit(train[0]).predict_proba(val[0]), val[1])["nll"])
    probs[f"Laplace full, α={best:g} by val"] = Laplace(net, approx="full", alpha=best).fit(train[0]).predict_proba(xt)
    rows = {k: calibration_report(p, yt) for k, p in probs.items()}
    os.makedirs(OUT, exist_ok=True)
    reliability_diagram({k: (probs[k], yt) for k in ("MAP", "Laplace full", f"Laplace full, α={best:g} by val")},
                        os.path.join(OUT, f"calibration_{name}.png"), title=f"{name}: test reliability")
    n_w = sum(p.numel() for p in net.parameters())
    return {"n_train": N, "n_test": len(xt), "n_weights": n_w, "train_seconds": round(t_train, 2),
            "laplace_seconds": {k: round(v, 2) for k, v in seconds.items()}, "alpha_by_val": best,
            "metrics": rows}


def main():
    torch.set_num_threads(1)
    results = {"alpha": ALPHA,
               "digits": run("digits", load_digits, 32, 10),
               "breast_cancer": run("breast_cancer", load_breast_cancer, 16, 1)}
    with open(os.path.join(OUT, "calibration.json"), "w") as fh:
        json.dump(results, fh, indent=2)
    for ds in ("digits", "breast_cancer"):
        r = results[ds]
        print(f"\n{ds}: {r['n_train']} train / {r['n_test']} test, {r['n_weights']} weights, "
              f"trained in {r['train_seconds']} s; Laplace fit+predict s: {r['laplace_seconds']}")
        print(f"{'method':<30}{'accuracy':>9}{'NLL':>8}{'Brier':>8}{'ECE':>8}")
        for k, m in r["metrics"].items():
            print(f"{k:<30}{m['accuracy']:>9.4f}{m['nll']:>8.4f}{m['brier']:>8.4f}{m['ece']:>8.4f}")


if __name__ == "__main__":
    main()
