"""Gradient evaluations to reach a target error, every optimizer, full batch, 10 seeds.

Trains through ``fit`` (full batch: one update an epoch) and counts closure calls (one call = one
pass over the whole training set with its gradient), so line-search and finite-difference
evaluations of the second-order methods are counted too.
Prints a markdown table; with --json PATH also writes the numbers.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_optimizers.py
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
import warnings

import torch

from deepnets import fit
from deepnets.errors import TrainingDiverged
from deepnets.init import init_linear_
from deepnets.optim import OPTIMIZERS
from deepnets.train import Callback, FewExamplesWarning

SETTINGS = {
    "sgd": ("sgd", dict(lr=0.2)),
    "momentum": ("sgd", dict(lr=0.1, momentum=0.9)),
    "adagrad": ("adagrad", dict(lr=0.1)),
    "adam": ("adam", dict(lr=0.05)),
    "delta_bar_delta": ("delta_bar_delta", dict(lr=0.1, kappa=0.01, phi=0.2, theta=0.7)),
    "quickprop": ("quickprop", dict(lr=0.1, mu=1.75)),
    "conjugate_gradient": ("conjugate_gradient", dict(max_iter=1)),
    "scaled_conjugate_gradient": ("scaled_conjugate_gradient", dict(max_iter=1)),
    "memoryless_qn": ("memoryless_qn", dict(max_iter=1)),
    # torch derives max_eval = max_iter * 5 // 4 = 1 from max_iter=1, which starves its line search.
    "lbfgs": ("lbfgs", dict(max_iter=1, max_eval=25, line_search_fn="strong_wolfe")),
}


def problems():
    x_xor = torch.tensor([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]], dtype=torch.float64)
    y_xor = torch.tensor([[-1.0], [1.0], [1.0], [-1.0]], dtype=torch.float64)
    x_sin = torch.linspace(-math.pi, math.pi, 64, dtype=torch.float64).unsqueeze(1)  # (64, 1)
    return {
        "xor 2-2-1 (mse < 0.01)": (x_xor, y_xor, 2, 0.01),
        "sin 1-10-1 (mse < 0.001)": (x_sin, torch.sin(x_sin), 10, 1e-3),
    }


def make_model(n_in, n_hidden, seed):
    g = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(n_in, n_hidden), torch.nn.Tanh(), torch.nn.Linear(n_hidden, 1))
    model = model.double()
    for layer in (model[0], model[2]):
        init_linear_(layer.weight, layer.bias, "xavier", generator=g)
        torch.nn.init.uniform_(layer.bias, -0.5, 0.5, generator=g)
    return model


class CountedMSE:
    """The mean squared error (pred, target), counting its calls: one per closure evaluation."""

    def __init__(self):
        self.calls = 0

    def __call__(self, pred, target):
        self.calls += 1
        return torch.nn.functional.mse_loss(pred, target)


class UntilTarget(Callback):
    """After every update: stop once the training MSE is below ``target`` (``reached``), or once
    ``loss`` has been evaluated ``budget`` times."""

    def __init__(self, X, y, target: float, budget: int, loss: CountedMSE):
        self.X, self.y, self.target, self.budget, self.loss = X, y, target, budget, loss
        self.reached = False

    def on_batch_end(self, batch, logs=None):
        with torch.no_grad():
            self.reached = float(torch.nn.functional.mse_loss(self.loop.model(self.X), self.y)) < self.target
        if self.reached or self.loss.calls >= self.budget:
            self.loop.stop_training = True


def evaluations_to_target(name, X, y, hidden, target, seed, budget):
    """Full-batch training through ``fit`` (one update an epoch); the closure calls it took to reach
    ``target``, or None if the budget ran out first (or the run diverged)."""
    key, kwargs = SETTINGS[name]
    model = make_model(X.shape[1], hidden, seed)
    opt = OPTIMIZERS[key](model.parameters(), **kwargs)
    loss = CountedMSE()
    until = UntilTarget(X, y, target, budget, loss)
    try:
        fit(model, (X, y), loss=loss, optimizer=opt, epochs=budget, batch_size=None, callbacks=[until])
    except TrainingDiverged:
        return None
    return loss.calls if until.reached else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=3000)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", FewExamplesWarning)  # xor: 4 patterns for 9 weights, on purpose
    results = {}
    for title, (X, y, hidden, target) in problems().items():
        print(f"\n{title}, median over solved seeds of {args.seeds}, budget {args.budget} evaluations\n")
        print("| optimizer | solved | evaluations (median) | wall s (median) |")
        print("| --- | --- | --- | --- |")
        for name in SETTINGS:
            counts, times = [], []
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                n = evaluations_to_target(name, X, y, hidden, target, seed, args.budget)
                if n is not None:
                    counts.append(n)
                    times.append(time.perf_counter() - t0)
            med = statistics.median(counts) if counts else None
            med_t = statistics.median(times) if times else None
            results.setdefault(title, {})[name] = dict(solved=len(counts), evaluations=med, wall_s=med_t)
            print(f"| {name} | {len(counts)}/{args.seeds} | {med if med is not None else '-'} | "
                  f"{f'{med_t:.3f}' if med_t is not None else '-'} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
