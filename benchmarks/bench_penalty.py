"""What a weight-elimination penalty costs per epoch of ``fit``: no penalty, the penalty's
closed-form gradient (what ``fit`` uses: added inside the co-state step's one Numba call,
:mod:`deepnets.train.costate_whole`, where that runs; else one fused call of its own,
:mod:`deepnets.penalty_kernels`),
the same closed form on its torch path (what the fused call replaced, and what runs on a GPU or
under ``DEEPNETS_NO_NUMBA=1``), and the penalty through autograd, interleaved in one run (none,
closed form, closed form torch, autograd, none, ...), by the wall clock and by the process's CPU
time (``time.process_time``: on a shared, loaded machine the time this process ran, less what
waiting for a core adds to the wall clock): medians of the per-epoch time; the median and
quartiles of each repetition's own ratio to the unpenalised run just before it (the load drifts
less between two runs than over the benchmark); the ratio of the fastest runs.

The job: the NARX network of the series example (NARMA-10, 10 + 10 delay taps, 20-30-1 tanh,
483 training rows, Adam 0.005, weight elimination γ = 1e-6, w0 = 1, as examples/series_csv.toml),
trained for ``--epochs`` epochs per repetition in batches of 32 (the example's), and for 8 times
as many full batch (one step an epoch: about as long a run, less at the mercy of one interruption).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_penalty.py [--reps 41] [--epochs 100] [--out PATH]

Writes benchmarks/results/penalty_overhead.json (or PATH), with the load average at start and end.
The Numba kernel is compiled (or loaded from its cache) by a warm-up fit before the timed runs.
The "closed_form_torch" arm is what ``fit`` ran before the fused call (7670028: +22% and +14% on
a quiet machine). The script as it was then, run on the code from before the penalty went into
the co-state GEMMs, gave the older figures of penalty_overhead_before.json:

    mkdir -p /tmp/before && git archive ce24100 src | tar -x -C /tmp/before
    git show 7670028:benchmarks/bench_penalty.py > /tmp/before/bench_penalty.py
    OMP_NUM_THREADS=1 PYTHONPATH=/tmp/before/src python /tmp/before/bench_penalty.py --reps 15 --epochs 200 \
        --out benchmarks/results/penalty_overhead_before.json

penalty_overhead_before_whole.json is this script on the code before the step became one call
(466e0a8), run just before penalty_overhead.json:

    mkdir -p /tmp/before_whole && git archive 466e0a8 src | tar -x -C /tmp/before_whole
    OMP_NUM_THREADS=1 PYTHONPATH=/tmp/before_whole/src python benchmarks/bench_penalty.py --reps 41 --epochs 100 \
        --out benchmarks/results/penalty_overhead_before_whole.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import statistics
import time
import warnings

import torch

from deepnets import MLP, fit
from deepnets.data.series import delay_taps, narma10_series
from deepnets.penalty_gradients import FlatPenalty
from deepnets.regularizers import WeightElimination


class ThroughAutograd:
    """The same penalty without its closed form: ``fit`` differentiates it by autograd."""

    def __init__(self, penalty):
        self.penalty = penalty

    def __call__(self, model, x=None):
        return self.penalty(model, x)


class TorchPath(WeightElimination):
    """The same penalty with its closed form on the torch path (no fused Numba call)."""

    def bind(self, model):
        return FlatPenalty(self, model, fused=False)


def data():
    y, u = narma10_series(700, generator=torch.Generator().manual_seed(7))
    x, t = delay_taps(y, 10, u, 10)
    return x[:483].float(), t[:483].float()


def one_run(kind: str, x, t, epochs: int, batch_size=32) -> tuple[float, float]:
    """(wall-clock, CPU) seconds per epoch of one fit."""
    penalty = {"none": None, "closed_form": WeightElimination(gamma=1e-6, w0=1.0),
               "closed_form_torch": TorchPath(gamma=1e-6, w0=1.0),
               "autograd": ThroughAutograd(WeightElimination(gamma=1e-6, w0=1.0))}[kind]
    model = MLP([20, 30, 1], activation="tanh", output="linear", seed=0)
    t0, c0 = time.perf_counter(), time.process_time()
    fit(model, (x, t), loss="lms", optimizer="adam", lr=0.005, epochs=epochs, batch_size=batch_size,
        penalty=penalty, seed=0)
    return (time.perf_counter() - t0) / epochs, (time.process_time() - c0) / epochs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=41)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "penalty_overhead.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    x, t = data()
    kinds = ("none", "closed_form", "closed_form_torch", "autograd")
    for k in kinds:  # warm up (the fused kernel compiled or loaded from Numba's cache here)
        one_run(k, x, t, 2)
    report = {"machine": "2-core shared CPU, 1 thread", "torch": torch.__version__,
              "numba": importlib.metadata.version("numba"), "reps": args.reps,
              "epochs": args.epochs, "load_average_1min": {"start": os.getloadavg()[0]}, "batches": {}}
    for batch_size, epochs in ((32, args.epochs), (None, 8 * args.epochs)):
        wall, cpu = {k: [] for k in kinds}, {k: [] for k in kinds}
        for _ in range(args.reps):
            for k in kinds:
                w, c = one_run(k, x, t, epochs, batch_size)
                wall[k].append(w)
                cpu[k].append(c)
        entry = {}
        print(f"batch size {batch_size or 'full (483)'}, {epochs} epochs a run:")
        for clock, times in (("wall", wall), ("cpu", cpu)):
            med = {k: statistics.median(v) for k, v in times.items()}
            for k in kinds:
                print(f"  {clock:4s} {k:17s} {1e3 * med[k]:7.3f} ms/epoch   overhead over none "
                      f"{100 * (med[k] / med['none'] - 1):+6.1f}%")
            # each repetition's own ratio (its arms ran back to back, so a drift in the load cancels):
            # median and quartiles; and the ratio of the fastest runs (the least disturbed)
            ratios = {k: sorted(a / b - 1 for a, b in zip(times[k], times["none"])) for k in kinds[1:]}
            paired = {k: (statistics.median(r), *statistics.quantiles(r, n=4)[::2]) for k, r in ratios.items()}
            fastest = {k: min(times[k]) / min(times["none"]) - 1 for k in kinds[1:]}
            print(f"  {clock:4s} paired overheads, median [quartiles]: " + ", ".join(
                f"{k} {100 * m:+.1f}% [{100 * lo:+.1f}, {100 * hi:+.1f}]" for k, (m, lo, hi) in paired.items()))
            print(f"  {clock:4s} fastest runs' overheads: " + ", ".join(f"{k} {100 * v:+.1f}%" for k, v in fastest.items()))
            entry[clock] = {"ms_per_epoch_median": {k: 1e3 * v for k, v in med.items()},
                            "ms_per_epoch_min": {k: 1e3 * min(v) for k, v in times.items()},
                            **{f"overhead_{k}": med[k] / med["none"] - 1 for k in kinds[1:]},
                            **{f"overhead_{k}_paired": dict(zip(("median", "q1", "q3"), v)) for k, v in paired.items()},
                            **{f"overhead_{k}_fastest": v for k, v in fastest.items()}}
        report["batches"][str(batch_size or "full")] = {"epochs": epochs, **entry}
    report["load_average_1min"]["end"] = os.getloadavg()[0]
    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
