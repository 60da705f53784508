"""The MNIST-1D MLP search of examples/tune_mnist1d.toml, and its best configuration over seeds.

Runs (or, when the study folder already holds it, continues) ``deepnets tune`` on the example:
Optuna's TPE over width and depth, activation, learning rate, AdamW's weight decay, weight
elimination's gamma and w0, the input noise and the hidden units' dropout q, objective the
validation accuracy, the median pruner stopping bad trials. Then the best trial's configuration
is trained again with model and shuffling seeds 0..S-1 (seed 0 is the search's own) and scored
once on MNIST-1D's 1000 test sequences, which the search never saw. Published MLP figure: 68%
(Greydanus 2020, "Scaling down deep learning"); the best hand-tuned here: 68.2%
(examples/mnist1d.toml).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/tune_mnist1d.py [--seeds 5] [--out runs]
        [--trials N]   (the study's trials: default the example's 40, stopped by its 1500 s timeout)

Writes benchmarks/results/tune_mnist1d.json.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import os
import platform
import shutil
import statistics
import sys
import time

from _threads import limit_threads
from deepnets.config import experiment_from_file
from deepnets.experiment import run_experiment
from deepnets.experiment.tune import tune_file
from deepnets.experiment.tune_space import with_params

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "tune_mnist1d.toml")
RESULTS = os.path.join(HERE, "results")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--out", default="runs", help="the study folder's parent (tune-tune_mnist1d)")
    p.add_argument("--trials", type=int, default=None, help="the study's trials (default: the example's)")
    a = p.parse_args(argv)
    if a.seeds < 1:
        p.error(f"--seeds must be >= 1, got {a.seeds}")
    limit_threads(1)
    log = io.StringIO()
    wall, cpu = time.perf_counter(), time.process_time()
    res = tune_file(EXAMPLE, out_dir=a.out, out=log, trials=a.trials, retrain=False)
    search = {"wall_s_this_call": time.perf_counter() - wall, "cpu_s_this_call": time.process_time() - cpu}
    print(log.getvalue(), end="")
    with open(os.path.join(res.folder, "trials.csv")) as f:
        trials = list(csv.DictReader(f))
    search["trials_wall_s"] = sum(float(t["seconds"] or 0) for t in trials)
    search["trials"] = [{"number": int(t["number"]), "state": t["state"],
                         "val_accuracy": float(t["val_accuracy"]) if t["val_accuracy"] else None,
                         "seconds": float(t["seconds"] or 0)} for t in trials]
    number, values, params = res.best[0]
    base = experiment_from_file(EXAMPLE)
    runs = []
    for seed in range(a.seeds):
        exp = with_params(base, {**params, "model.seed": seed, "train.seed": seed})
        exp = dataclasses.replace(exp, run=dataclasses.replace(exp.run, out=os.path.join(res.folder, "seeds"),
                                                              name=f"best-{number}-seed-{seed}", plots=False))
        t0 = time.process_time()
        r = run_experiment(exp)
        runs.append({"seed": seed, "test_accuracy": r.test["accuracy"], "val_accuracy":
                     r.summary["metrics"]["val"]["accuracy"], "epochs": r.summary["epochs_run"],
                     "cpu_s": time.process_time() - t0})
        shutil.rmtree(r.path, ignore_errors=True)
        print(f"seed {seed}: test accuracy {r.test['accuracy']:.4f}", flush=True)
    acc = [r["test_accuracy"] for r in runs]
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} cores shared, 1 thread",
           "load": os.getloadavg()[0], "study": res.folder, "trials_complete": res.n_complete,
           "trials_pruned": res.n_pruned, "trials_failed": res.n_failed, "best_trial": number,
           "best_val_accuracy": values[0], "best_params": params, "search": search, "seeds": runs,
           "test_accuracy_mean": statistics.mean(acc), "test_accuracy_sd": statistics.stdev(acc) if len(acc) > 1 else 0.0,
           "test_accuracy_min": min(acc), "test_accuracy_max": max(acc)}
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, "tune_mnist1d.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"best trial #{number} (val accuracy {values[0]:.4f}): test accuracy {out['test_accuracy_mean']:.4f} "
          f"± {out['test_accuracy_sd']:.4f} (min {out['test_accuracy_min']:.4f}) over {a.seeds} seeds; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
