"""Robustness on the 8x8 digits: clean and attacked test accuracy over an ε sweep, four trainings.

The same MLP, 64-100-10 (tanh hidden units, logits out, cross-entropy), from the same initial
weights per seed, trained with Adam for a fixed number of epochs in five ways:

    plain         the cost E alone
    dropout       deepnets.nn.Dropout after the hidden layer (keep p = 0.5, inverted)
    weight_decay  E + γ ½ Σ w² (deepnets.regularizers.WeightDecay, γ = 1e-3)
    adv_fgsm      (1 − w) E(x) + w E(x'), x' the FGSM attack of radius ε_train, w = 0.5 (Goodfellow et al. 2015)
    adv_pgd       E(x'), x' a PGD attack of radius ε_train, 5 steps (Madry et al. 2018)

Inputs are the pixels / 16, in [0, 1]; every attack is clipped to that range, so ε is a fraction
of the full pixel scale. Split 65/10/25 (seed 0, stratified; the validation part is unused).
The table gives, per training, the test accuracy (mean ± standard deviation over seeds) clean and
under FGSM and PGD (10 steps, α = 2.5 ε / 10, random start) at each ε of the sweep.
JSON and a markdown table in benchmarks/results/adversarial_digits.{json,md}.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_adversarial.py [--epochs 30 --seeds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings

import torch
from torch import nn

from deepnets import fit
from deepnets.adversarial import adversarial_loss, attacked_accuracy
from deepnets.data import load_dataset, split
from deepnets.nn import Dropout
from deepnets.regularizers import WeightDecay

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
TRAININGS = ("plain", "dropout", "weight_decay", "adv_fgsm", "adv_pgd")


def net(seed: int, dropout: bool) -> nn.Sequential:
    """64-100-10 tanh MLP with logit outputs; the same initial weights for every training of a seed."""
    torch.manual_seed(seed)
    first, last = nn.Linear(64, 100), nn.Linear(100, 10)
    return nn.Sequential(first, nn.Tanh(), *([Dropout(0.5)] if dropout else []), last)


def train(kind: str, train_xy, *, seed: int, epochs: int, eps_train: float) -> nn.Module:
    model = net(seed, dropout=kind == "dropout")
    loss, penalty = "cross_entropy", None
    if kind == "weight_decay":
        penalty = WeightDecay(1e-3)
    elif kind == "adv_fgsm":
        loss = adversarial_loss(epsilon=eps_train, weight=0.5, clip=(0.0, 1.0), seed=seed)
    elif kind == "adv_pgd":
        loss = adversarial_loss(attack="pgd", epsilon=eps_train, steps=5, weight=1.0, clip=(0.0, 1.0), seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the few-examples warning: the comparison is the point here
        fit(model, train_xy, loss=loss, penalty=penalty, optimizer="adam", lr=3e-3, epochs=epochs, batch_size=64,
            seed=seed)
    return model.eval()


def robustness(model, x, y, epsilons, *, seed: int) -> dict:
    """{"fgsm": [acc per ε], "pgd": [acc per ε]} on (x, y), attacks clipped to [0, 1]."""
    g = torch.Generator().manual_seed(1000 + seed)
    return {"fgsm": [attacked_accuracy(model, x, y, e, clip=(0.0, 1.0)) for e in epsilons],
            "pgd": [attacked_accuracy(model, x, y, e, attack="pgd", steps=10, clip=(0.0, 1.0), generator=g)
                    for e in epsilons]}


def table(results: dict, epsilons) -> str:
    head = "| training | clean | " + " | ".join(f"{a} ε={e:g}" for a in ("FGSM", "PGD") for e in epsilons[1:]) + " |"
    lines = [head, "|" + "---|" * (2 + 2 * (len(epsilons) - 1))]
    for kind, runs in results.items():
        def cell(attack, i):
            v = [r[attack][i] for r in runs]
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            return f"{100 * statistics.mean(v):.1f} ± {100 * sd:.1f}"
        cells = [cell("fgsm", 0)] + [cell(a, i) for a in ("fgsm", "pgd") for i in range(1, len(epsilons))]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--eps-train", type=float, default=0.1)
    ap.add_argument("--epsilons", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2])
    ap.add_argument("--out", default=os.path.join(RESULTS, "adversarial_digits"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    data = load_dataset("digits")
    parts = split(data, (0.65, 0.10, 0.25), seed=0, stratify=True)
    (xtr, ytr), (xte, yte) = parts.train, parts.test
    xtr, xte = xtr / 16, xte / 16  # pixels in [0, 1]
    results = {k: [] for k in TRAININGS}
    seconds = {k: [] for k in TRAININGS}
    for seed in range(args.seeds):
        for kind in TRAININGS:  # interleaved: every training of a seed runs before the next seed
            start = time.perf_counter()
            model = train(kind, (xtr, ytr), seed=seed, epochs=args.epochs, eps_train=args.eps_train)
            seconds[kind].append(time.perf_counter() - start)
            results[kind].append(robustness(model, xte, yte, args.epsilons, seed=seed))
            print(f"seed {seed} {kind:12s} clean {results[kind][-1]['fgsm'][0]:.3f}  "
                  f"fgsm {results[kind][-1]['fgsm'][1:]}  pgd {results[kind][-1]['pgd'][1:]}", file=sys.stderr)
    md = table(results, args.epsilons)
    print(md)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".json", "w") as fh:
        json.dump({"epochs": args.epochs, "seeds": args.seeds, "eps_train": args.eps_train, "epsilons": args.epsilons,
                   "n_train": len(ytr), "n_test": len(yte), "results": results,
                   "train_seconds_median": {k: statistics.median(v) for k, v in seconds.items()},
                   "torch": torch.__version__}, fh, indent=1)
    with open(args.out + ".md", "w") as fh:
        fh.write(md + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
