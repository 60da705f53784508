"""Batch normalisation against learning rate and initial scale: the lecture's "allows higher
learning rates" and "reduces the strong dependence on initial weights".

The same deep ReLU net, 64-100-100-100-100-100-100-10, with and without deepnets.nn.BatchNorm
(the lecture's |B| − 1 variance, Ioffe & Szegedy 2015) between each Linear layer and its ReLU,
built by ``benchmarks/dropout_bn_digits.py``'s ``mlp``, its Linear layers initialised by He's
w ~ N(0, 2/fan_in), zero biases (the lecture's alternate initialisation, the right scale for ReLU;
``--init`` picks another of deepnets.init's schemes), the same weights per seed with and without
BN, then every weight matrix multiplied by the init scale (×0.1, ×1, ×10). Plain minibatch SGD (batch 32, no momentum) over a
learning-rate sweep, a few epochs on the digits (split 65/10/25, standard-scaled).

A run **diverged** when the loss or a gradient became non-finite (``fit``'s guard stops it);
otherwise the cell gives the final test accuracy, mean ± sd over the seeds (a diverged seed
counts in ``k/R diverged``, not in the mean).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bn_lr_init_digits.py [--epochs 10 --seeds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import torch
from torch import nn

from dropout_bn_digits import RESULTS, digits_parts, mlp, train_and_score
from deepnets.errors import TrainingDiverged
from deepnets.init import INITS, init_linear_


def scaled_net(hidden, *, batchnorm: bool, seed: int, scale: float, init: str) -> nn.Sequential:
    """``mlp`` without dropout, its Linear layers drawn by ``init`` (seeded) and their weights times ``scale``."""
    net = mlp(hidden, dropout=False, batchnorm=batchnorm, seed=seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.Linear):
                init_linear_(layer.weight, layer.bias, init, generator=g)
                layer.weight.mul_(scale)
    return net


def run(*, lrs, scales, seeds: int, epochs: int, hidden, init: str) -> list[dict]:
    train, val, test = digits_parts()
    rows = []
    for batchnorm in (False, True):
        for scale in scales:
            for lr in lrs:
                runs = []
                for seed in range(seeds):
                    net = scaled_net(hidden, batchnorm=batchnorm, seed=seed, scale=scale, init=init)
                    try:
                        r = train_and_score(net, train, val, test, lr=lr, epochs=epochs, seed=seed, target=0.97)
                        runs.append({"test_accuracy": r["test_accuracy"], "loss": r["loss"], "diverged": False})
                    except TrainingDiverged as err:
                        runs.append({"test_accuracy": None, "diverged": True, "error": str(err)})
                rows.append({"batchnorm": batchnorm, "scale": scale, "lr": lr, "runs": runs})
                accs = [100 * r["test_accuracy"] for r in runs if not r["diverged"]]
                print(f"BN {batchnorm!s:5} scale {scale:<4g} lr {lr:<6g} test acc "
                      + (" ".join(f"{v:.1f}" for v in accs) or "-")
                      + f"  diverged {sum(r['diverged'] for r in runs)}", flush=True)
    return rows


def cell(runs: list[dict]) -> str:
    accs = [100 * r["test_accuracy"] for r in runs if not r["diverged"]]
    bad = sum(r["diverged"] for r in runs)
    if not accs:
        return f"diverged {bad}/{len(runs)}"
    sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
    return f"{statistics.mean(accs):.1f} ± {sd:.1f}" + (f" ({bad}/{len(runs)} diverged)" if bad else "")


def table(rows: list[dict], lrs, scales) -> str:
    index = {(r["batchnorm"], r["scale"], r["lr"]): r["runs"] for r in rows}
    cols = [(bn, s) for bn in (False, True) for s in scales]
    out = ["| SGD lr | " + " | ".join(f"{'BN' if bn else 'plain'}, init ×{s:g}" for bn, s in cols) + " |",
           "|---|" + "---|" * len(cols)]
    for lr in lrs:
        out.append(f"| {lr:g} | " + " | ".join(cell(index[(bn, s, lr)]) for bn, s in cols) + " |")
    return "\n".join(out)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lrs", type=float, nargs="+", default=[0.01, 0.03, 0.1, 0.3, 1.0, 3.0])
    p.add_argument("--scales", type=float, nargs="+", default=[0.1, 1.0, 10.0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--hidden", type=int, nargs="+", default=[100] * 6)
    p.add_argument("--init", default="he_normal", choices=INITS, help="the ×1 initialisation")
    p.add_argument("--out", default=RESULTS)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    rows = run(lrs=a.lrs, scales=a.scales, seeds=a.seeds, epochs=a.epochs, hidden=tuple(a.hidden), init=a.init)
    text = table(rows, a.lrs, a.scales)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "bn_lr_init_digits.json"), "w", encoding="utf-8") as fh:
        json.dump({"settings": vars(a), "torch": torch.__version__, "results": rows}, fh, indent=1)
    with open(os.path.join(a.out, "bn_lr_init_digits.md"), "w", encoding="utf-8") as fh:
        fh.write(f"`python benchmarks/bn_lr_init_digits.py {' '.join(argv if argv is not None else sys.argv[1:])}`"
                 f" (torch {torch.__version__}, 1 CPU thread; test accuracy %, mean ± sd of {a.seeds} seeds,"
                 f" {a.epochs} epochs; init ×1 = {a.init}; chance is 10%)\n\n" + text + "\n")
    print(text)


if __name__ == "__main__":
    main()
