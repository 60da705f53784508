"""Semi-supervised learning of MLPs on the digits with 1-5% of the labels: the semi-supervised net
(labelled steps, similar-pair steps, dissimilar-pair steps through :func:`deepnets.fit`) beside the
supervised-only net on the same labels and beside scikit-learn's ``LabelSpreading``.

    python benchmarks/bench_semisupervised.py [--seeds 0,1,2,3,4] [--fractions 0.01,0.02,0.05]
        [--epochs 10] [--lam 1.0] [--margin 1.0] [--k 5] [--out benchmarks/results/semisupervised.json]

Per seed s: the digits (pixels / 16) split 70/30 into train and test (stratified, seed s); of the
train part a stratified fraction keeps its labels (L), the rest (U) loses them. All three learners
see the same L and U and are scored by accuracy on the test part.

- ``semi-supervised net``: MLP 64-64-10 (tanh hidden, linear output), J(W) = ½(Σ_L ‖z − ẑ‖² +
  λ Σ_U L(·)) with the pair loss of margin M; pairs by the rule "the k nearest neighbours in input
  space are similar, a random point of the farthest half is dissimilar" on U only; Adam η = 0.01,
  labelled batch 32, pair batch 128.
- ``supervised-only net``: the same MLP and optimiser on L alone, as many labelled steps.
- ``LabelSpreading``: scikit-learn's, k-NN kernel (7 neighbours), α = 0.2, fit on L ∪ U.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import warnings

import numpy as np
import torch
from _results import write_results
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.semi_supervised import LabelSpreading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from deepnets import MLP  # noqa: E402
from deepnets.train import SemiSupervisedBatches, SemiSupervisedLoss, fit, neighbour_pairs  # noqa: E402


def _accuracy(net, x, y):
    with torch.no_grad():
        return float((net(x).argmax(1) == y).float().mean())


def run(seed: int, fraction: float, args) -> dict:
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.3, stratify=y, random_state=seed)
    n_lab = max(10, round(fraction * len(y_tr)))
    lab, unl = train_test_split(np.arange(len(y_tr)), train_size=n_lab, stratify=y_tr, random_state=seed)
    t = lambda a, dt=torch.float32: torch.tensor(a, dtype=dt)  # noqa: E731
    xl, yl, xu = t(x_tr[lab]), t(y_tr[lab], torch.long), t(x_tr[unl])
    xt, yt = t(x_te), t(y_te, torch.long)
    g = torch.Generator().manual_seed(seed)
    pairs = neighbour_pairs(xu, k=args.k, generator=g)
    src = SemiSupervisedBatches(xl, yl, xu, pairs, batch_size=32, pair_batch_size=128)
    semi = MLP([64, 64, 10], activation="tanh", seed=seed)
    fit(semi, src, loss=SemiSupervisedLoss(lam=args.lam, margin=args.margin), optimizer="adam", lr=0.01,
        epochs=args.epochs, seed=seed)
    steps = src.cycles * args.epochs  # the semi-supervised run's labelled steps
    sup = MLP([64, 64, 10], activation="tanh", seed=seed)
    per_epoch = -(-len(lab) // 32)
    fit(sup, (xl, yl), loss="lms", optimizer="adam", lr=0.01, epochs=max(1, steps // per_epoch), batch_size=32, seed=seed)
    y_ls = y_tr.copy()
    y_ls[unl] = -1  # LabelSpreading's mark of an unlabelled example
    ls = LabelSpreading(kernel="knn", n_neighbors=7, alpha=0.2).fit(x_tr, y_ls)
    return {"seed": seed, "fraction": fraction, "labelled": int(n_lab), "unlabelled": int(len(unl)),
            "similar_pairs": len(pairs.similar), "dissimilar_pairs": len(pairs.dissimilar),
            "semi-supervised net": _accuracy(semi, xt, yt), "supervised-only net": _accuracy(sup, xt, yt),
            "LabelSpreading": float((ls.predict(x_te) == y_te).mean())}


METHODS = ("semi-supervised net", "supervised-only net", "LabelSpreading")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--fractions", default="0.01,0.02,0.05")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lam", type=float, default=1.0)
    p.add_argument("--margin", type=float, default=1.0)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/semisupervised.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")  # FewExamplesWarning: few labels is the point here
    seeds = [int(s) for s in args.seeds.split(",")]
    runs, table = [], []
    for fraction in (float(f) for f in args.fractions.split(",")):
        rows = [run(s, fraction, args) for s in seeds]
        runs += rows
        summary = {"fraction": fraction, "labelled": rows[0]["labelled"]}
        for m in METHODS:
            accs = [r[m] for r in rows]
            summary[m] = {"mean": statistics.mean(accs), "sd": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                          "min": min(accs), "max": max(accs)}
        table.append(summary)
    print("| labels | " + " | ".join(METHODS) + " |")
    print("|---|" + "---|" * len(METHODS))
    for s in table:
        cells = [f"{s[m]['mean']:.3f} ± {s[m]['sd']:.3f}" for m in METHODS]
        print(f"| {s['fraction']:.0%} ({s['labelled']}) | " + " | ".join(cells) + " |")
    write_results(args.out, "bench_semisupervised.py", argv, args, table=table, runs=runs)


if __name__ == "__main__":
    main()
