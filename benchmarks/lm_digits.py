"""Levenberg-Marquardt on the optimizers table's digits job, epoch by epoch.

The table (``bench_optimizers_table.py``) asks for a held-out accuracy of 0.96 on the digits
(64-16-10 tanh/softmax, LMS on one-hot targets, the 65/35 split, standardised inputs) within 100
epochs. This follows Levenberg-Marquardt (trainlm's defaults, full batch: one epoch is one
step, (JᵀJ + μI)Δ = Jᵀe over 1,210 weights and 11,680 residuals, J taken 8 samples at a time:
the same step as the default 256, at half the CPU time here) through its first epochs:
held-out and training accuracy, the LMS loss and the CPU seconds of each epoch (the CPU time of
this process: on the shared 2-core machine an epoch's wall-clock time mostly measures the load).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/lm_digits.py [--seeds 0 1 2] [--epochs 15]

Writes benchmarks/results/lm_digits.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(__file__))
from bench_optimizers_table import problems  # noqa: E402  (the table's data and split)

from deepnets import MLP, fit  # noqa: E402
from deepnets.train.callbacks import Callback  # noqa: E402


class EpochLog(Callback):
    """Held-out and training accuracy, loss and CPU seconds after every epoch."""

    def __init__(self, train, val):
        self.train, self.val, self.rows, self.cpu = train, val, [], time.process_time()

    @torch.no_grad()
    def on_epoch_end(self, epoch, logs=None):
        model = self.loop.model
        acc = {name: float((model(x).argmax(1) == y).float().mean()) for name, (x, y) in
               (("val", self.val), ("train", self.train))}
        now = time.process_time()
        self.rows.append(dict(epoch=epoch + 1, val_accuracy=acc["val"], train_accuracy=acc["train"],
                              loss=float(logs["loss"]), cpu_s=now - self.cpu))
        self.cpu = now
        print(f"epoch {epoch + 1}: held-out {acc['val']:.4f}  train {acc['train']:.4f}  "
              f"loss {logs['loss']:.5f}  {self.rows[-1]['cpu_s']:.2f} s CPU", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    train, val, sizes, output, _, target, budget = problems()["digits"]
    runs = {}
    for seed in args.seeds:
        log = EpochLog(train, val)
        model = MLP(sizes, activation="tanh", output=output, seed=seed)
        fit(model, train, loss="lms", optimizer="lm", optimizer_options=dict(chunk=8), epochs=args.epochs,
            batch_size=None, callbacks=[log], seed=seed)
        runs[seed] = log.rows
        best = max(log.rows, key=lambda r: r["val_accuracy"])
        print(f"seed {seed}: best held-out accuracy {best['val_accuracy']:.4f} at epoch {best['epoch']} "
              f"(target {target}); {sum(r['cpu_s'] for r in log.rows) / len(log.rows):.2f} s CPU an epoch", flush=True)
    out = os.path.join(os.path.dirname(__file__), "results", "lm_digits.json")
    with open(out, "w") as fh:
        json.dump({"machine": "2-core shared CPU, 1 thread", "torch": torch.__version__, "target": target,
                   "table_epoch_budget": budget, "load_average_1min_at_end": round(os.getloadavg()[0], 2),
                   "runs": runs}, fh, indent=2)


if __name__ == "__main__":
    main()
