"""What the dropout of the MNIST-1D search's best configuration is worth: the same configuration
trained again with model.dropout = 0, the same model and shuffling seeds, scored on the 1000 test
sequences, beside the seeds benchmarks/tune_mnist1d.py recorded with the searched dropout q.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/tune_mnist1d_dropout.py [--seeds 5]

Reads benchmarks/results/tune_mnist1d.json (run benchmarks/tune_mnist1d.py first); writes
benchmarks/results/tune_mnist1d_dropout.json. About 40 s of CPU a seed here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

from _results import write_results
from _threads import limit_threads
from deepnets.config import experiment_from_file
from deepnets.experiment import run_experiment
from deepnets.experiment.tune_space import with_params

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "tune_mnist1d.toml")
SEARCH = os.path.join(HERE, "results", "tune_mnist1d.json")


def _stats(acc):
    return {"test_accuracy_mean": statistics.mean(acc), "test_accuracy_sd": statistics.stdev(acc) if len(acc) > 1
            else 0.0, "test_accuracy_min": min(acc), "test_accuracy_max": max(acc)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=5)
    a = p.parse_args(argv)
    if a.seeds < 1:
        p.error(f"--seeds must be >= 1, got {a.seeds}")
    limit_threads(1)
    with open(SEARCH) as f:
        search = json.load(f)
    params = search["best_params"]
    if not params.get("model.dropout"):
        sys.exit(f"{SEARCH}: the best configuration has no dropout (model.dropout = "
                 f"{params.get('model.dropout')!r}): nothing to compare")
    base = experiment_from_file(EXAMPLE)
    runs, out_dir = [], tempfile.mkdtemp(prefix="tune_mnist1d_dropout-")
    for seed in range(a.seeds):
        exp = with_params(base, {**params, "model.dropout": 0.0, "model.seed": seed, "train.seed": seed})
        exp = dataclasses.replace(exp, run=dataclasses.replace(exp.run, out=out_dir, name=f"q0-seed-{seed}", plots=False))
        t0 = time.process_time()
        r = run_experiment(exp)
        runs.append({"seed": seed, "test_accuracy": r.test["accuracy"], "epochs": r.summary["epochs_run"],
                     "cpu_s": time.process_time() - t0})
        print(f"seed {seed}: test accuracy without dropout {r.test['accuracy']:.4f}", flush=True)
    shutil.rmtree(out_dir, ignore_errors=True)
    without = _stats([r["test_accuracy"] for r in runs])
    with_q = _stats([r["test_accuracy"] for r in search["seeds"][:a.seeds]])
    write_results(os.path.join(HERE, "results", "tune_mnist1d_dropout.json"), "tune_mnist1d_dropout.py", argv, a,
                  best_params=params, dropout=params["model.dropout"], without_dropout={**without, "seeds": runs},
                  with_dropout=with_q)
    print(f"q = {params['model.dropout']:.3f}: {with_q['test_accuracy_mean']:.4f} ± {with_q['test_accuracy_sd']:.4f}; "
          f"q = 0: {without['test_accuracy_mean']:.4f} ± {without['test_accuracy_sd']:.4f} "
          f"(min {without['test_accuracy_min']:.4f}) over {a.seeds} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
