"""MNIST-1D with the paper's GRU through the CLI's run path, over a few seeds (published: 91%).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/mnist1d_gru.py --seeds 0 1 2

Runs examples/mnist1d_gru.toml (a bidirectional lecture-form GRU of 6 units per direction, a
linear layer over all 40 x 12 states; Adam, lr 0.01, batches of 100, random shifts and input
noise, early stopping on the validation accuracy) with model.seed = train.seed = data.seed = s
for each seed s, exactly as ``deepnets train examples/mnist1d_gru.toml --set model.seed=s ...``
would, and records the test accuracy on MNIST-1D's own 1000 test sequences. Writes
benchmarks/results/mnist1d_gru.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import warnings
from pathlib import Path

import torch

from deepnets.experiment import experiment_from_file, run_experiment

EXAMPLE = Path(__file__).parent.parent / "examples" / "mnist1d_gru.toml"
PUBLISHED = 0.91   # Greydanus (2020), "Scaling down deep learning", arXiv:2011.14439, Table 1 (GRU)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="extra key=value")
    ap.add_argument("--machine", default="2-core shared CPU")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "mnist1d_gru.json"))
    args = ap.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")      # the few-examples warning: early stopping is the answer
        for s in args.seeds:
            exp = experiment_from_file(EXAMPLE, [f"model.seed={s}", f"train.seed={s}", f"data.seed={s}",
                                                 f"run.out={json.dumps(folder)}", "run.progress=false",
                                                 "run.plots=false", *args.overrides])
            r = run_experiment(exp, source=f"seed{s}")
            epochs = r.summary["epochs_run"]
            best = epochs - exp.train.early_stopping.patience if epochs < exp.train.epochs else None
            runs.append({"seed": s, "test_accuracy": r.test["accuracy"], "test_loss": r.test["loss"],
                         "val_accuracy": r.summary["metrics"]["val"]["accuracy"], "epochs_run": epochs,
                         "best_epoch": best, "train_seconds": r.summary["train_seconds"],
                         "n_weights": r.summary["n_weights"]})
            print(f"seed {s}: test accuracy {r.test['accuracy']:.4f} after {epochs} epochs "
                  f"({r.summary['train_seconds']:.0f} s)")
    acc = [r["test_accuracy"] for r in runs]
    out = {"machine": args.machine, "torch": torch.__version__, "threads": 1,
           "example": "examples/mnist1d_gru.toml", "overrides": args.overrides,
           "published_accuracy": PUBLISHED, "mean_test_accuracy": statistics.fmean(acc),
           "min_test_accuracy": min(acc), "runs": runs}
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"mean {statistics.fmean(acc):.4f}, min {min(acc):.4f} (published GRU {PUBLISHED}) ({args.machine})")
    return out


if __name__ == "__main__":
    main()
