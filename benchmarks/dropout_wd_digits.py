"""Dropout against weight decay on the same net: the lecture's "better than weight decay regularization".

The net, data and training of ``benchmarks/dropout_bn_digits.py`` (64-256-256-256-10 ReLU, plain
minibatch SGD, batch 32; the digits split 65/10/25, standard-scaled), from the same initial
weights per seed in every variant:

    plain          no regularisation
    dropout        keep p = 0.5 for hidden units, 0.8 for inputs (Srivastava et al. 2014)
    weight decay   E(W) + (λ/2) Σ_l Σ_ij w_ij(l)² on the weight matrices, not the biases (the
                   lecture's penalty, :class:`deepnets.regularizers.WeightDecay`; per sample, as
                   the data term is a mean); SGD then shrinks each weight by (1 − ηλ) a step
    dropout + wd   both, with λ chosen again for this pairing

λ for each decayed variant is the grid value with the highest mean final validation accuracy
over the seeds (ties: the smaller λ); the test set is looked at only for the table. Run with all
1,168 training samples and with the first 250 (where overfitting bites). The table gives mean ±
standard deviation over seeds of the test accuracy and of the train − test accuracy gap.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/dropout_wd_digits.py [--epochs 150 --seeds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import torch

from dropout_bn_digits import RESULTS, digits_parts, mlp, train_and_score
from deepnets.regularizers import WeightDecay

VARIANTS = {"plain": False, "dropout": True, "weight decay": False, "dropout + wd": True}  # name -> dropout
DECAYED = ("weight decay", "dropout + wd")


def run_regime(n_train: int, *, epochs: int, seeds: int, lr: float, lams, hidden, target: float) -> dict:
    """Every variant (each decayed one at every λ of ``lams``) over ``seeds`` seeds on one training size."""
    train, val, test = digits_parts(n_train)

    def runs(dropout: bool, lam: float) -> list[dict]:
        return [train_and_score(mlp(hidden, dropout=dropout, batchnorm=False, seed=seed), train, val, test,
                                lr=lr, epochs=epochs, seed=seed, target=target,
                                penalty=WeightDecay(gamma=lam) if lam else None)
                for seed in range(seeds)]

    out = {}
    for name, dropout in VARIANTS.items():
        if name not in DECAYED:
            out[name] = {"lam": 0.0, "runs": runs(dropout, 0.0)}
            continue
        grid = {lam: runs(dropout, lam) for lam in lams}
        val_acc = {lam: statistics.mean(r["val_accuracy"][-1] for r in rs) for lam, rs in grid.items()}
        best = max(lams, key=lambda lam: (val_acc[lam], -lam))
        out[name] = {"lam": best, "runs": grid[best], "val_accuracy_by_lam": val_acc}
        print(f"  n_train {n_train or 'all'}, {name}: validation accuracy by λ "
              + ", ".join(f"{lam:g}: {v:.4f}" for lam, v in val_acc.items()) + f" -> λ = {best:g}", flush=True)
    return out


def _ms(values, unit: str) -> str:
    """Mean ± sample standard deviation, one decimal."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} ± {sd:.1f}{unit}"


def table(regimes: dict) -> str:
    rows = ["| variant | λ (all) | test acc (all 1,168) | train − test gap (all) | λ (250) | test acc (250) | "
            "train − test gap (250) |", "|---|---|---|---|---|---|---|"]
    for name in VARIANTS:
        cells = []
        for result in regimes.values():
            v = result[name]
            cells += [f"{v['lam']:g}" if v["lam"] else "—",
                      _ms([100 * r["test_accuracy"] for r in v["runs"]], "%"),
                      _ms([100 * (r["train_accuracy"] - r["test_accuracy"]) for r in v["runs"]], " pt")]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--lams", type=float, nargs="+", default=[1e-4, 1e-3, 3e-3, 1e-2], help="the λ grid")
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 256, 256])
    p.add_argument("--target", type=float, default=0.97)
    p.add_argument("--out", default=RESULTS)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    regimes = {}
    for n_train in (0, 250):
        regimes["all" if not n_train else str(n_train)] = run_regime(
            n_train, epochs=a.epochs, seeds=a.seeds, lr=a.lr, lams=a.lams, hidden=tuple(a.hidden), target=a.target)
    text = table(regimes)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "dropout_wd_digits.json"), "w", encoding="utf-8") as fh:
        json.dump({"settings": vars(a), "torch": torch.__version__, "results": regimes}, fh, indent=1)
    with open(os.path.join(a.out, "dropout_wd_digits.md"), "w", encoding="utf-8") as fh:
        fh.write(f"`python benchmarks/dropout_wd_digits.py {' '.join(argv if argv is not None else sys.argv[1:])}`"
                 f" (torch {torch.__version__}, 1 CPU thread; {a.seeds} seeds, mean ± sd)\n\n" + text + "\n")
    print(text)


if __name__ == "__main__":
    main()
