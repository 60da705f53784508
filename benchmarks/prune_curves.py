"""Accuracy against sparsity for OBS, layer-wise OBS, OBD and magnitude pruning (no retraining).

A p-32-10 tanh MLP is trained on scikit-learn's digits (64 inputs, bundled) or on MNIST-1D (40
inputs, generated offline) with Adam and cross-entropy, then pruned to 50 ... 95 % of its weight
matrices (biases kept, for every method) by each method; the test accuracy at each sparsity is
printed as a table and written as JSON and a PNG plot. OBS, OBD and magnitude run the same loop
with their defaults (one weight a step; Q rebuilt every 5% of the weights at this size, α = 1e-6 on
the mean outer product); "OBS (Q once)" keeps the Q of the trained weights. A second table prunes
each of the three "until the training accuracy first drops" (``max_accuracy_drop=0``, Hassibi &
Stork's rule) and reports the fraction removed and the test accuracy there.

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


def _magnitude(net, x, z, **kw):
    return magnitude_prune(net, x=x, z=z, **kw)


#: method -> pruner(net, x, labels, **rules), all on the cross-entropy of the logits
PRUNERS = {"obs": lambda n, x, z, **kw: obs_prune(n, x, z, loss="cross_entropy", **kw),
           "obd": lambda n, x, z, **kw: obd_prune(n, x, z, loss="cross_entropy", **kw),
           "magnitude": lambda n, x, z, **kw: _magnitude(n, x, z, loss="cross_entropy", **kw)}


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

    def along_path(method, **kw):
        """One OBS/OBD/magnitude run to the largest sparsity, the accuracy read off at each level."""
        net = copy.deepcopy(base)
        got = {}

        def observe(m, result):
            s = len(result.removed) / P
            for lv in LEVELS:
                if lv not in got and s >= lv - 1e-12:
                    got[lv] = accuracy(m, Xte, yte)

        t0 = time.perf_counter()
        PRUNERS[method](net, Xtr, ytr, names=names, sparsity=max(LEVELS), callback=observe, **kw)
        seconds[method + ("" if not kw else " Q once")] = time.perf_counter() - t0
        return [got[lv] for lv in LEVELS]

    rows = {"OBS": along_path("obs"),
            "OBS (Q once)": along_path("obs", recompute_every=None),
            "OBD": along_path("obd")}
    first_drop = {}
    for method in ("obs", "obd", "magnitude"):
        net = copy.deepcopy(base)
        r = PRUNERS[method](net, Xtr, ytr, names=names, max_accuracy_drop=0.0)
        first_drop[method] = {"removed": len(r.removed) / P, "test_accuracy": accuracy(net, Xte, yte),
                              "stopped_by": r.stopped_by}
    lw = []
    t0 = time.perf_counter()
    for lv in LEVELS:
        net = copy.deepcopy(base)
        layerwise_obs(net, Xtr, sparsity=lv, rounds=8)
        lw.append(accuracy(net, Xte, yte))
    seconds["layerwise"] = time.perf_counter() - t0
    rows["OBS (layer-wise)"] = lw
    rows["magnitude"] = along_path("magnitude")
    print(f"{args.dataset} {Xtr.shape[1]}-32-10, {P} weights, dense test accuracy {table['dense']:.3f}")
    print("sparsity          " + "".join(f"{lv:>7.0%}" for lv in LEVELS))
    for k, v in rows.items():
        print(f"{k:18s}" + "".join(f"{a:7.3f}" for a in v))
    print("until the training accuracy first drops: " + ", ".join(
        f"{k} {v['removed']:.1%} removed, test {v['test_accuracy']:.3f}" for k, v in first_drop.items()))
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))
    with open(out, "w") as f:
        json.dump({"dataset": args.dataset, "levels": LEVELS, "dense": table["dense"], "accuracy": rows,
                   "first_drop": first_drop,
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
