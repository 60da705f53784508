"""Greedy layer-wise pretraining on the digits when few labels are available: the same deep MLP
fine-tuned from random weights and from pretrained ones, several seeds.

    python benchmarks/bench_pretrain.py [--seeds 0,1,2,3,4] [--fractions 0.01,0.05,0.1]
        [--activation logistic] [--pretrain-epochs 20] [--steps 400] [--threads 1]
        [--out benchmarks/results/pretrain.json]

Per seed s: the digits (pixels / 16) split 70/30 (stratified, seed s). Of the training part a
stratified fraction keeps its labels (at least 10 examples); all of its pixels, labels unused, are
the unlabelled data of pretraining, which is done once per seed and kind and reused for every
fraction. The net is the MLP 64-100-100-10 (``--activation`` hidden units, softmax output, initial
weights from seed s), fine-tuned by :func:`deepnets.fit` with cross-entropy, Adam (η = 0.003), batch
32, for ``--steps`` optimizer steps, on the labelled examples only; scored by test accuracy.

Arms (the same labelled examples, the same fine-tuning, the same initial output layer):

- ``no pretraining``: fine-tuning from the random initial weights;
- ``autoencoder``: both hidden layers pretrained greedily as tied autoencoders
  (:func:`deepnets.train.pretrain_mlp`, kind "autoencoder", ``--pretrain-epochs`` epochs each,
  Adam η = 0.005, batch 32);
- ``denoising autoencoder``: the same with masking noise ν = 0.25;
- ``rbm``: kind "rbm" (:func:`deepnets.train.rbm.rbm_layer`: PCD-1, η = 0.1, batch 10, as
  scikit-learn's ``BernoulliRBM``; the same ``--pretrain-epochs``) -- logistic hidden units only;
- ``rbm-momentum``: kind "rbm", PCD-1, batch 32, η = 0.3, momentum 0.5, weight decay 2e-4 (Hinton &
  Salakhutdinov 2006's settings; η = 0.05 without them left layer 2's codes near 0.5).

``--arms`` picks some of them (comma-separated names; default: the first four, those the activation allows).
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from deepnets import MLP, fit  # noqa: E402
from deepnets.train import PRETRAINERS, pretrain_mlp  # noqa: E402
from _results import write_results
from _threads import limit_threads  # noqa: E402

#: arm -> (kind, options) of pretrain_mlp; None: no pretraining
ARMS = {"no pretraining": None,
        "autoencoder": ("autoencoder", {"lr": 0.005, "batch_size": 32}),
        "denoising autoencoder": ("autoencoder", {"lr": 0.005, "batch_size": 32, "noise": "mask", "noise_level": 0.25}),
        "rbm": ("rbm", {"lr": 0.1, "batch_size": 10}),  # PCD-1, scikit-learn's BernoulliRBM defaults
        "rbm-momentum": ("rbm", {"lr": 0.3, "batch_size": 32, "momentum": 0.5, "weight_decay": 2e-4})}


def _accuracy(net, x, y) -> float:
    with torch.no_grad():
        return float((net(x).argmax(1) == y).float().mean())


def arms(activation: str, chosen: str = "") -> list[str]:
    """The arms to run: those named in ``chosen`` (comma-separated; empty: all) the activation allows."""
    names = [a.strip() for a in chosen.split(",") if a.strip()] or list(ARMS)
    unknown = sorted(set(names) - set(ARMS))
    if unknown:
        raise SystemExit(f"--arms: unknown {unknown}; expected some of {list(ARMS)}")
    return [a for a in names if ARMS[a] is None or (ARMS[a][0] in PRETRAINERS and
                                                    (ARMS[a][0] != "rbm" or activation == "logistic"))]


def run_seed(seed: int, fractions, args) -> list[dict]:
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.3, stratify=y, random_state=seed)
    t = lambda a, dt=torch.float32: torch.tensor(a, dtype=dt)  # noqa: E731
    xu, xt, yt = t(x_tr), t(x_te), t(y_te, torch.long)
    starts, seconds = {}, {}
    for arm in arms(args.activation, args.arms):  # pretraining once per seed and arm, on every training image
        net = MLP([64, 100, 100, 10], activation=args.activation, output="softmax", seed=seed)
        t0 = time.perf_counter()
        if ARMS[arm] is not None:
            kind, options = ARMS[arm]
            pretrain_mlp(net, xu, kind, seed=seed, epochs=args.pretrain_epochs, **options)
        seconds[arm] = time.perf_counter() - t0
        starts[arm] = net
    rows = []
    for fraction in fractions:
        n_lab = max(10, round(fraction * len(y_tr)))
        lab, _ = train_test_split(np.arange(len(y_tr)), train_size=n_lab, stratify=y_tr, random_state=seed)
        xl, yl = t(x_tr[lab]), t(y_tr[lab], torch.long)
        epochs = max(1, math.ceil(args.steps / math.ceil(n_lab / 32)))
        row = {"seed": seed, "fraction": fraction, "labelled": n_lab, "epochs": epochs}
        for arm, start in starts.items():
            net = copy.deepcopy(start)
            t0 = time.perf_counter()
            fit(net, (xl, yl), loss="cross_entropy", optimizer="adam", lr=0.003, epochs=epochs, batch_size=32,
                seed=seed)
            row[arm] = {"accuracy": _accuracy(net, xt, yt), "pretrain_seconds": seconds[arm],
                        "finetune_seconds": time.perf_counter() - t0}
        rows.append(row)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--fractions", default="0.01,0.05,0.1")
    p.add_argument("--activation", default="logistic")
    p.add_argument("--pretrain-epochs", type=int, default=20)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--arms", default="no pretraining,autoencoder,denoising autoencoder,rbm",
                   help="comma-separated arms (also: rbm-momentum)")
    p.add_argument("--out", default="benchmarks/results/pretrain.json")
    args = p.parse_args(argv)
    limit_threads(args.threads)
    warnings.simplefilter("ignore")  # FewExamplesWarning: few labels is the point here
    fractions = [float(f) for f in args.fractions.split(",")]
    runs, seeds = [], [int(s) for s in args.seeds.split(",")]
    for s in seeds:
        runs += run_seed(s, fractions, args)
        print(f"seed {s} done", file=sys.stderr, flush=True)
    names = arms(args.activation, args.arms)
    table = []
    for fraction in fractions:
        rows = [r for r in runs if r["fraction"] == fraction]
        summary = {"fraction": fraction, "labelled": rows[0]["labelled"]}
        for m in names:
            accs = [r[m]["accuracy"] for r in rows]
            summary[m] = {"mean": statistics.mean(accs), "sd": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                          "min": min(accs), "max": max(accs),
                          "pretrain_seconds_median": statistics.median(r[m]["pretrain_seconds"] for r in rows)}
            if ARMS[m] is not None:  # paired by seed: the same split, labels and initial weights
                gain = [r[m]["accuracy"] - r["no pretraining"]["accuracy"] for r in rows]
                summary[m].update(gain_mean=statistics.mean(gain), seeds_improved=sum(g > 0 for g in gain),
                                  gain_sd=statistics.stdev(gain) if len(gain) > 1 else 0.0)
        table.append(summary)
    print("| labels | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for s in table:
        print(f"| {s['fraction']:.0%} ({s['labelled']}) | " +
              " | ".join(f"{s[m]['mean']:.3f} ± {s[m]['sd']:.3f}" for m in names) + " |")
    print("gain over no pretraining, paired by seed (points, mean ± sd, seeds improved):")
    for s in table:
        print(f"  {s['fraction']:.0%}: " + "; ".join(
            f"{m} {100 * s[m]['gain_mean']:+.1f} ± {100 * s[m]['gain_sd']:.1f} ({s[m]['seeds_improved']}/{len(seeds)})"
            for m in names if ARMS[m] is not None))
    print("pretraining time per seed (median): " + ", ".join(
        f"{m} {table[0][m]['pretrain_seconds_median']:.1f} s" for m in names if ARMS[m] is not None))
    write_results(args.out, "bench_pretrain.py", argv, args, table=table, runs=runs)


if __name__ == "__main__":
    main()
