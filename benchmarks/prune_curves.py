"""Accuracy against sparsity for OBS, layer-wise OBS, OBD and magnitude pruning (no retraining).

A p-32-10 tanh MLP is trained on scikit-learn's digits (64 inputs, bundled) or on MNIST-1D (40
inputs, generated offline) with Adam and cross-entropy, then pruned to 50 ... 95 % of its weight
matrices (biases kept) by each method; the test accuracy at each sparsity is printed as a table
and written as JSON and a PNG plot.

    python benchmarks/prune_curves.py --dataset digits|mnist1d [--out results.json] [--seed 0]
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from deepnets import fit
from deepnets.prune import layerwise_obs, magnitude_prune, obd_prune, obs_prune

LEVELS = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]


def data(name, seed):
    t = lambda a, d: torch.as_tensor(a, dtype=d)  # noqa: E731
    if name == "mnist1d":
        from deepnets.data import load_dataset

        d = load_dataset("mnist1d")
        return t(d.x, torch.float64), t(d.y, torch.long), t(d.test[0], torch.float64), t(d.test[1], torch.long)
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.3, random_state=seed, stratify=y)
    return t(Xtr, torch.float64), t(ytr, torch.long), t(Xte, torch.float64), t(yte, torch.long)


def train(Xtr, ytr, seed):
    """300 epochs of full-batch Adam (η = 0.01) on the cross-entropy, through ``fit``."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(Xtr.shape[1], 32), nn.Tanh(), nn.Linear(32, 10)).double()
    fit(net, (Xtr, ytr), loss="cross_entropy", optimizer=torch.optim.Adam(net.parameters(), lr=1e-2),
        epochs=300, batch_size=None)
    return net


def accuracy(net, X, y):
    with torch.no_grad():
        return float((net(X).argmax(1) == y).double().mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["digits", "mnist1d"], default="digits")
    ap.add_argument("--out", default=None, help="JSON results (default benchmarks/results/prune_DATASET.json)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = args.out or f"benchmarks/results/prune_{args.dataset}.json"
    Xtr, ytr, Xte, yte = data(args.dataset, args.seed)
    base = train(Xtr, ytr, args.seed)
    names = ["0.weight", "2.weight"]
    P = sum(base.get_parameter(n).numel() for n in names)
    table = {"dense": accuracy(base, Xte, yte)}
    seconds = {}

    def along_path(curvature, recompute_every=None):
        """One OBS/OBD run to the largest sparsity, the accuracy read off at each level."""
        net = copy.deepcopy(base)
        got = {}

        def observe(m, result):
            s = len(result.removed) / P
            for lv in LEVELS:
                if lv not in got and s >= lv - 1e-12:
                    got[lv] = accuracy(m, Xte, yte)

        t0 = time.perf_counter()
        obs_prune(net, Xtr, ytr, loss="cross_entropy", curvature=curvature, names=names,
                  sparsity=max(LEVELS), callback=observe, alpha=1e-4,
                  recompute_every=recompute_every)
        seconds[curvature + ("" if recompute_every is None else " rebuilt")] = time.perf_counter() - t0
        return [got[lv] for lv in LEVELS]

    rows = {"OBS (full)": along_path("full"),
            "OBS (Q every 5%)": along_path("full", recompute_every=P // 20),
            "OBD": along_path("diagonal")}
    lw, mag = [], []
    t0 = time.perf_counter()
    for lv in LEVELS:
        net = copy.deepcopy(base)
        layerwise_obs(net, Xtr, sparsity=lv, rounds=8)
        lw.append(accuracy(net, Xte, yte))
    seconds["layerwise"] = time.perf_counter() - t0
    for lv in LEVELS:
        net = copy.deepcopy(base)
        magnitude_prune(net, lv, names=names)
        mag.append(accuracy(net, Xte, yte))
    rows["OBS (layer-wise)"] = lw
    rows["magnitude"] = mag
    print(f"{args.dataset} {Xtr.shape[1]}-32-10, {P} weights, dense test accuracy {table['dense']:.3f}")
    print("sparsity          " + "".join(f"{lv:>7.0%}" for lv in LEVELS))
    for k, v in rows.items():
        print(f"{k:18s}" + "".join(f"{a:7.3f}" for a in v))
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))
    with open(out, "w") as f:
        json.dump({"dataset": args.dataset, "levels": LEVELS, "dense": table["dense"], "accuracy": rows,
                   "seconds": seconds, "weights": P, "seed": args.seed}, f, indent=1)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for k, v in rows.items():
        ax.plot([100 * lv for lv in LEVELS], v, marker="o", label=k)
    ax.axhline(table["dense"], color="gray", ls="--", lw=1, label="dense")
    ax.set_xlabel("sparsity of the weight matrices (%)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{args.dataset} {Xtr.shape[1]}-32-10: pruning without retraining")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(out.replace(".json", ".png"), dpi=110, bbox_inches="tight")
    print(f"written to {out} and {out.replace('.json', '.png')}")


if __name__ == "__main__":
    main()
