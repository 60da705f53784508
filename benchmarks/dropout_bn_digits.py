"""Dropout and batch normalization earning their place: learning curves on the 8x8 digits.

The same deep ReLU MLP, 64-256-256-256-10, trained four ways with plain minibatch SGD (the
lecture's algorithm, no momentum) from the same initial weights per seed:

    plain        Linear-ReLU blocks
    dropout      each hidden block followed by deepnets.nn.Dropout (keep p = 0.5, inputs 0.8),
                 inverted convention (Srivastava et al. 2014)
    batchnorm    deepnets.nn.BatchNorm (the lecture's |B|-1 variance) between Linear and ReLU
                 (Ioffe & Szegedy 2015)
    both         batch normalization, then ReLU, then dropout

Split 65/10/25 (seed 0, stratified), standard scaling fitted on the training part. Every epoch
records the training loss and the validation accuracy; at the end the test accuracy. The table
gives the mean ± standard deviation over seeds of the final validation and test accuracies,
the final train - test accuracy gap (overfitting), and the first epoch whose validation accuracy
reaches the target. PNG: benchmarks/results/dropout_bn_digits[_nN].png; JSON and a markdown table beside it.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/dropout_bn_digits.py [--epochs 100 --seeds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch
from torch import nn

from deepnets import fit
from deepnets.data import Scaler, load_dataset, split
from deepnets.nn import BatchNorm, Dropout
from deepnets.train.loop import evaluate

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def mlp(hidden, *, dropout: bool, batchnorm: bool, seed: int, keep: float = 0.5,
        keep_input: float = 0.8) -> nn.Sequential:
    """64-hidden...-10 ReLU network with optional BN (before ReLU) and dropout (after it)."""
    torch.manual_seed(seed)  # the Linear layers draw the same initial weights in every variant
    layers: list[nn.Module] = [Dropout(keep_input)] if dropout else []
    n = 64
    for width in hidden:
        layers.append(nn.Linear(n, width))
        if batchnorm:
            layers.append(BatchNorm(width))
        layers.append(nn.ReLU())
        if dropout:
            layers.append(Dropout(keep))
        n = width
    layers.append(nn.Linear(n, 10))  # logits
    return nn.Sequential(*layers)


VARIANTS = {
    "plain": dict(dropout=False, batchnorm=False),
    "dropout": dict(dropout=True, batchnorm=False),
    "batchnorm": dict(dropout=False, batchnorm=True),
    "both": dict(dropout=True, batchnorm=True),
}


def first_epoch(curve: list[float], target: float) -> int | None:
    """1-based epoch at which ``curve`` first reaches ``target``, None if never."""
    return next((i + 1 for i, v in enumerate(curve) if v >= target), None)


def digits_parts(n_train: int = 0):
    """The digits split 65/10/25 (seed 0, stratified), standard-scaled on the training part:
    (train, val, test) pairs (x, y); with ``n_train``, the first n of the shuffled training part."""
    data = load_dataset("digits")
    parts = split(data, (0.65, 0.10, 0.25), seed=0, stratify=True)
    scaler = Scaler.fit(parts.train[0], "standard")
    train, val, test = ((scaler(x), y) for x, y in (parts.train, parts.val, parts.test))
    if n_train:  # a small-data regime where overfitting bites
        train = (train[0][:n_train], train[1][:n_train])
    return train, val, test


def train_and_score(model, train, val, test, *, lr: float, epochs: int, seed: int, target: float,
                    momentum: float = 0.0, penalty=None) -> dict:
    """Plain minibatch SGD (batch 32) on cross-entropy; the run's curves and final accuracies."""
    loss = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    h = fit(model, train, validation=val, loss=loss, optimizer="sgd", lr=lr, epochs=epochs,
            batch_size=32, optimizer_options={"momentum": momentum} if momentum else None,
            metrics=["accuracy"], seed=seed, penalty=penalty)
    seconds = time.perf_counter() - t0
    return {
        "loss": h.history["loss"], "val_accuracy": h.history["val_accuracy"],
        "train_accuracy": evaluate(model, *train, loss=loss, metrics=["accuracy"])["accuracy"],
        "test_accuracy": evaluate(model, *test, loss=loss, metrics=["accuracy"])["accuracy"],
        "epochs_to_target": first_epoch(h.history["val_accuracy"], target), "seconds": seconds,
    }


def run(epochs: int, seeds: int, lr: float, target: float, hidden=(256, 256, 256), keep: float = 0.5,
        keep_input: float = 0.8, variants=tuple(VARIANTS), momentum: float = 0.0, n_train: int = 0) -> dict:
    train, val, test = digits_parts(n_train)
    out = {}
    for name in variants:
        out[name] = [train_and_score(mlp(hidden, seed=seed, keep=keep, keep_input=keep_input, **VARIANTS[name]),
                                     train, val, test, lr=lr, epochs=epochs, seed=seed, target=target,
                                     momentum=momentum)
                     for seed in range(seeds)]
    return out


def _ms(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "never"
    if len(values) == 1:
        return f"{values[0]:.4g}"
    return f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}"


def table(results: dict, target: float) -> str:
    rows = ["| variant | final val acc | final test acc | train - test gap | "
            f"epochs to val acc {target:.2f} | seconds per run |", "|---|---|---|---|---|---|"]
    for name, runs in results.items():
        reached = [r["epochs_to_target"] for r in runs]
        hits = sum(e is not None for e in reached)
        rows.append(f"| {name} | {_ms([r['val_accuracy'][-1] for r in runs])} | "
                    f"{_ms([r['test_accuracy'] for r in runs])} | "
                    f"{_ms([r['train_accuracy'] - r['test_accuracy'] for r in runs])} | "
                    f"{_ms(reached)} ({hits}/{len(runs)} reached) | {_ms([r['seconds'] for r in runs])} |")
    return "\n".join(rows)


def plot(results: dict, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, runs in results.items():
        for key, ax in (("loss", ax_loss), ("val_accuracy", ax_acc)):
            curves = torch.tensor([r[key] for r in runs])  # (seeds, epochs)
            mean = curves.mean(0)
            epochs = range(1, curves.shape[1] + 1)
            line, = ax.plot(epochs, mean, label=name)
            ax.fill_between(epochs, curves.min(0).values, curves.max(0).values, color=line.get_color(), alpha=0.15)
    ax_loss.set(xlabel="epoch", ylabel="training cross-entropy", yscale="log", title="training loss")
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0.85, 1.0), title="validation accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--n-train", type=int, default=0, help="train on the first N of the training part (0: all)")
    p.add_argument("--target", type=float, default=0.97)
    p.add_argument("--hidden", type=int, nargs="+", default=[256, 256, 256])
    p.add_argument("--keep", type=float, default=0.5, help="dropout keep probability of hidden units")
    p.add_argument("--keep-input", type=float, default=0.8, help="dropout keep probability of inputs")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--out", default=RESULTS)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    results = run(a.epochs, a.seeds, a.lr, a.target, tuple(a.hidden), a.keep, a.keep_input, tuple(a.variants),
                  a.momentum, a.n_train)
    os.makedirs(a.out, exist_ok=True)
    stem = "dropout_bn_digits" + (f"_n{a.n_train}" if a.n_train else "")
    png = os.path.join(a.out, stem + ".png")
    sizes = "-".join(map(str, [64, *a.hidden, 10]))
    plot(results, png, f"digits ({a.n_train or 'all'} training samples), {sizes} ReLU, SGD lr {a.lr} momentum {a.momentum}, batch 32, keep {a.keep_input}/{a.keep} "
                       f"(mean and range of {a.seeds} seeds)")
    with open(os.path.join(a.out, stem + ".json"), "w", encoding="utf-8") as fh:
        json.dump({"settings": vars(a), "results": results}, fh, indent=1)
    text = table(results, a.target)
    with open(os.path.join(a.out, stem + ".md"), "w", encoding="utf-8") as fh:
        fh.write(f"`python benchmarks/dropout_bn_digits.py {' '.join(argv if argv is not None else sys.argv[1:])}`"
                 f" (torch {torch.__version__}, 1 CPU thread; seconds depend on the machine)\n\n" + text + "\n")
    print(text)
    print(f"plot: {png}")


if __name__ == "__main__":
    main()
