"""Epochs and wall time to reach a target, every optimizer of the lecture, through ``deepnets.fit``.

Problems (targets are checked after every epoch on the training set, or on a held-out split for
digits):

    xor      2-2-1 tanh/tanh, ±1 targets, the 4 patterns,        MSE < 0.02
    parity   4-4-1 tanh/tanh, ±1 targets, all 16 patterns,        MSE < 0.02
    sin      1-10-1 tanh/linear, sin x at 64 points on [-pi, pi], MSE < 1e-3
    digits   64-16-10 tanh/softmax, LMS on one-hot targets, 65/35 split, held-out accuracy >= 0.96

One epoch is one pass over the training data. On the toy problems every optimizer but the Kalman
filters is trained full batch; the Kalman filters are the classical per-pattern filters (batch 1).
On digits the first-order methods take minibatches of 32, the Kalman filters of 8 (one 80-output
measurement), the batch methods the full set. Every optimizer minimises the same LMS error. A run that does not reach
its target within the epoch budget counts as unsolved; medians are over solved seeds.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_optimizers_table.py [--seeds 10]
        [--only PROBLEM ...] [--rows OPTIMIZER ...]

Writes benchmarks/results/optimizers_table.json and prints a markdown table; with ``--rows`` only
those optimizers are run and their rows replace the ones in the JSON file already there.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import statistics
import sys
import time
import warnings

import torch

from deepnets import MLP, fit
from deepnets.data import load_dataset, split
from deepnets.train.callbacks import Callback

# name -> (optimizer, options, batch size on the toy problems, batch size on digits); None = full batch
SETTINGS = {
    "sgd": ("sgd", dict(lr=0.2), None, 32),
    "momentum": ("sgd", dict(lr=0.1, momentum=0.9), None, 32),
    "adagrad": ("adagrad", dict(lr=0.1), None, 32),
    "adam": ("adam", dict(lr=0.02), None, 32),
    "delta_bar_delta": ("delta_bar_delta", dict(lr=0.1, kappa=0.01, phi=0.2, theta=0.7), None, None),
    "quickprop": ("quickprop", dict(lr=0.1, mu=1.75), None, None),
    "conjugate_gradient": ("conjugate_gradient", dict(max_iter=1), None, None),
    "scaled_conjugate_gradient": ("scaled_conjugate_gradient", dict(max_iter=1), None, None),
    "memoryless_qn": ("memoryless_qn", dict(max_iter=1), None, None),
    # torch's LBFGS derives max_eval = 1 from max_iter = 1, which starves its line search
    "lbfgs": ("lbfgs", dict(max_iter=1, max_eval=25, line_search_fn="strong_wolfe"), None, None),
    # the classical per-pattern filter on the toy problems; P(0) = I, Q = 0.01 I, R = 3 I were
    # picked by a 3-seed sweep on xor and parity (p0 in {1, 100}, q in {1e-4, 1e-2}, r in {0.1, 3})
    "ekf": ("ekf", dict(p0=1.0, q=1e-2, r=3.0), 1, 8),
    "decoupled_ekf": ("decoupled_ekf", dict(p0=1.0, q=1e-2, r=3.0), 1, 8),
    # Levenberg-Marquardt with trainlm's defaults (mu 1e-3, x0.1 / x10), full batch everywhere
    "lm": ("lm", dict(), None, None),
}


def _pm1(bits: torch.Tensor) -> torch.Tensor:
    return 2.0 * bits - 1.0


def problems():
    """name -> (train (x, y), check data, sizes, output, target kind, target, epoch budget)."""
    x_xor = _pm1(torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]))  # (4, 2)
    y_xor = _pm1(torch.tensor([[0.0], [1.0], [1.0], [0.0]]))
    bits = torch.tensor([[(i >> b) & 1 for b in range(4)] for i in range(16)], dtype=torch.float32)  # (16, 4)
    x_par, y_par = _pm1(bits), _pm1(bits.sum(1, keepdim=True) % 2)
    x_sin = torch.linspace(-math.pi, math.pi, 64).unsqueeze(1)  # (64, 1)
    d = load_dataset("digits")
    parts = split(d, (0.65, 0.35), seed=0, stratify=True)
    mu, sd = parts.train[0].mean(0), parts.train[0].std(0).clamp_min(1e-6)
    tr = ((parts.train[0] - mu) / sd, parts.train[1])
    va = ((parts.val[0] - mu) / sd, parts.val[1])
    return {
        "xor": ((x_xor, y_xor), (x_xor, y_xor), [2, 2, 1], "tanh", "mse", 0.02, 1000),
        "parity4": ((x_par, y_par), (x_par, y_par), [4, 4, 1], "tanh", "mse", 0.02, 1000),
        "sin": ((x_sin, torch.sin(x_sin)), (x_sin, torch.sin(x_sin)), [1, 10, 1], "linear", "mse", 1e-3, 2000),
        "digits": (tr, va, [64, 16, 10], "softmax", "accuracy", 0.96, 100),
    }


class StopAtTarget(Callback):
    """Stops training at the end of the first epoch whose check reaches the target."""

    def __init__(self, check, kind, target):
        self.x, self.y = check
        self.kind, self.target, self.reached = kind, target, None

    @torch.no_grad()
    def on_epoch_end(self, epoch, logs=None):
        model = self.loop.model
        model.eval()
        out = model(self.x)
        model.train()
        if self.kind == "mse":
            ok = float(((out - self.y) ** 2).mean()) < self.target
        else:
            ok = float((out.argmax(1) == self.y).float().mean()) >= self.target
        if ok and math.isfinite(float(out.sum())):
            self.reached = epoch + 1
            self.loop.stop_training = True


def run_one(problem, name, seed):
    train, check, sizes, output, kind, target, budget = problem
    opt, options, toy_bs, digits_bs = SETTINGS[name]
    options = dict(options)
    lr = options.pop("lr", None)
    model = MLP(sizes, activation="tanh", output=output, seed=seed)
    stop = StopAtTarget(check, kind, target)
    batch_size = digits_bs if kind == "accuracy" else toy_bs
    t0 = time.perf_counter()
    try:
        fit(model, train, loss="lms", optimizer=opt, lr=lr, optimizer_options=options, epochs=budget,
            batch_size=batch_size, callbacks=[stop], seed=seed)
    except Exception as e:  # a diverged run (non-finite loss) counts as unsolved
        logging.getLogger(__name__).info("%s seed %d: %s", name, seed, e)
    return stop.reached, time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--digits-seeds", type=int, default=10)
    parser.add_argument("--only", nargs="*", help="only these problems")
    parser.add_argument("--rows", nargs="*", choices=list(SETTINGS),
                        help="only these optimizers, merged into the JSON file already there")
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "results", "optimizers_table.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # the toy problems are far below 10 examples per weight, on purpose
    logging.disable(logging.WARNING)
    results = {"machine": "2-core shared CPU, 1 thread", "torch": torch.__version__, "problems": {}}
    if args.rows:
        with open(args.json) as fh:
            results = json.load(fh)
    start = time.perf_counter()
    for pname, problem in problems().items():
        if args.only and pname not in args.only:
            continue
        seeds = args.digits_seeds if pname == "digits" else args.seeds
        _, _, sizes, _, kind, target, budget = problem
        rows = results["problems"][pname]["rows"] if args.rows else {}
        for name in args.rows or SETTINGS:
            epochs, times = [], []
            for seed in range(seeds):
                reached, seconds = run_one(problem, name, seed)
                if reached is not None:
                    epochs.append(reached)
                    times.append(seconds)
            print(f"{pname} {name}: {len(epochs)}/{seeds} solved, {time.perf_counter() - start:.0f} s so far",
                  file=sys.stderr, flush=True)
            rows[name] = dict(solved=len(epochs), seeds=seeds,
                              epochs_median=statistics.median(epochs) if epochs else None,
                              wall_s_median=statistics.median(times) if times else None,
                              batch_size=SETTINGS[name][3] if kind == "accuracy" else SETTINGS[name][2])
        results["problems"][pname] = dict(sizes=sizes, target=f"{kind} {'<' if kind == 'mse' else '>='} {target}",
                                          epoch_budget=budget, rows=rows)
    results["total_seconds" if not args.rows else "rows_seconds"] = round(time.perf_counter() - start, 1)
    names = [n for n in SETTINGS if all(n in results["problems"][p]["rows"] for p in results["problems"])]
    probs = list(results["problems"])
    print("| optimizer | " + " | ".join(f"{p} epochs | {p} s | {p} solved" for p in probs) + " |")
    print("| --- |" + " --- | --- | --- |" * len(probs))
    for name in names:
        cells = []
        for p in probs:
            r = results["problems"][p]["rows"][name]
            cells += [f"{r['epochs_median']:g}" if r["epochs_median"] is not None else "-",
                      f"{r['wall_s_median']:.3f}" if r["wall_s_median"] is not None else "-",
                      f"{r['solved']}/{r['seeds']}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\ntotal {round(time.perf_counter() - start, 1)} s")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
