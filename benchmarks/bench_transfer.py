"""Transfer learning: do features learned on classes 0-4 speed up learning 5-9 from few labels?

``--data digits`` (the default) uses the 8x8 digits, ``--data mnist1d`` MNIST-1D (Greydanus 2020:
40-step sequences, 4000 + 1000 examples); the nets' input width follows the data. The data are split 75/25 (seed 0, stratified) and standard-scaled on the training part (its
pixels only, all ten digits; no label of 5-9 enters). The source net, an MLP 64-100-100-5 (ReLU hidden units, softmax outputs), is
trained on every training image of digits 0-4 (Adam, 30 epochs, batches of 32). Then, per seed,
k labelled images per class of digits 5-9 are drawn from the training part, and three nets of
the same shape learn them (full batch, Adam, η = 0.01, cross-entropy), from the same weights
wherever they are not copied:

    scratch       every weight fresh
    frozen-d      the lowest d layers (layers.0 .. layers.d-1) copied from the source net and frozen
                  (deepnets.train.freeze); the layers above train
    finetune-d    the same copy, all trainable, the copied layers at η/10 (fit's layer_lr)

Each epoch the accuracy on the test images of digits 5-9 is recorded. The table gives the mean ±
standard deviation over seeds of the test accuracy after a few epochs and at the end, and the
first epoch reaching the target accuracy (the end + 1 when never). JSON: benchmarks/results/transfer_DATA.json.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_transfer.py [--per-class 10 20 --seeds 5]
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_transfer.py --data mnist1d --target 0.5
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
import warnings

import torch

from deepnets import MLP, fit
from deepnets.data import Scaler, load_dataset, split
from deepnets.train import FewExamplesWarning, freeze

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
VARIANTS = ("scratch", "frozen-1", "finetune-1", "frozen-2", "finetune-2")


def tasks(data: str = "digits"):
    """(source train x, y), (target pool x, y), (target test x, y): labels 0-4 on both sides."""
    parts = split(load_dataset(data), (0.75, 0.0, 0.25), seed=0, stratify=True)
    (x, y), (xt, yt) = parts.train, parts.test
    src, tgt = y < 5, y >= 5
    scaler = Scaler.fit(x, "standard")
    return ((scaler(x[src]), y[src]), (scaler(x[tgt]), y[tgt] - 5),
            (scaler(xt[yt >= 5]), yt[yt >= 5] - 5))


def few_labels(x, y, per_class: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    idx = torch.cat([torch.nonzero(y == c).flatten()[torch.randperm(int((y == c).sum()), generator=g)[:per_class]]
                     for c in range(5)])
    return x[idx], y[idx]


def net(a, seed: int) -> MLP:
    return MLP([a.n_inputs, *a.hidden, 5], activation=a.activation, output="softmax", seed=seed)


def variant(name: str, source: MLP, a, seed: int):
    """The target net and fit's layer_lr for one variant (``kind-depth``); the layers it does not
    copy, the output layer among them, are scratch's."""
    model = net(a, 1000 + seed)
    if name == "scratch":
        return model, None
    kind, depth = name.split("-")
    trunk = [f"layers.{i}" for i in range(int(depth))]
    for i in range(int(depth)):
        model.layers[i].load_state_dict(copy.deepcopy(source.layers[i].state_dict()))
    if kind == "frozen":
        freeze(model, *trunk)
        return model, None
    return model, {f"{t}.": a.lr / 10 for t in trunk}


def probe(source: MLP, a, pool, test) -> dict:
    """Test accuracy on 5-9 of a logistic regression (scikit-learn) fitted on every pool label, on
    the features of the source net's lowest d layers and of a random net's, d = 0 (pixels), 1, 2."""
    from sklearn.linear_model import LogisticRegression

    def features(m, x, d):
        with torch.no_grad():
            for i in range(d):
                x = m.activations[i](m.layers[i](x))
        return x.numpy()

    out = {}
    for name, m in (("source", source), ("random", net(a, 10_000))):
        for d in range(len(a.hidden) + 1):
            clf = LogisticRegression(max_iter=5000).fit(features(m, pool[0], d), pool[1].numpy())
            out[f"{name}-{d}"] = clf.score(features(m, test[0], d), test[1].numpy())
    return out


def first_epoch(curve, target):
    return next((i + 1 for i, a in enumerate(curve) if a >= target), len(curve) + 1)


def run(a) -> dict:
    (xs, ys), (xp, yp), test = tasks(a.data)
    a.n_inputs = xs.shape[1]
    out = {"source": [], "runs": []}
    for seed in range(a.seeds):
        t0 = time.perf_counter()
        source = net(a, seed)
        fit(source, (xs, ys), loss="cross_entropy", optimizer="adam", lr=0.01, epochs=a.source_epochs,
            batch_size=32, seed=seed)
        with torch.no_grad():
            acc = float((source(xs).argmax(1) == ys).float().mean())
        if seed == 0:
            out["probe"] = probe(source, a, (xp, yp), test)
        out["source"].append({"seed": seed, "train_accuracy": acc,
                              "seconds": time.perf_counter() - t0})
        for k in a.per_class:
            x, y = few_labels(xp, yp, k, seed)
            for name in VARIANTS:  # one after another on the same labels, so the variants see alike machine load
                model, layer_lr = variant(name, source, a, seed)
                t0 = time.perf_counter()
                h = fit(model, (x, y), loss="cross_entropy", optimizer="adam", lr=a.lr, layer_lr=layer_lr,
                        epochs=a.epochs, batch_size=None, validation=test, metrics=["accuracy"], seed=seed)
                curve = h.history["val_accuracy"]
                out["runs"].append({"variant": name, "per_class": k, "seed": seed, "test_accuracy": curve,
                                    "epochs_to_target": first_epoch(curve, a.target),
                                    "seconds": time.perf_counter() - t0})
                print(f"k={k:3d} seed={seed} {name:9s} acc@{a.early}={curve[a.early - 1]:.3f} "
                      f"end={curve[-1]:.3f} to {a.target}: {first_epoch(curve, a.target)}", flush=True)
    return out


def _ms(v):
    return f"{statistics.mean(v):.3f} ± {statistics.stdev(v) if len(v) > 1 else 0.0:.3f}"


def table(out, a) -> str:
    rows = [f"| labels per class | variant | test acc. @ {a.early} epochs | @ {a.epochs} epochs | "
            f"epochs to {a.target:.0%} |", "|---|---|---|---|---|"]
    for k in a.per_class:
        for name in VARIANTS:
            rs = [r for r in out["runs"] if r["variant"] == name and r["per_class"] == k]
            to = [r["epochs_to_target"] for r in rs]
            rows.append(f"| {k} | {name} | {_ms([r['test_accuracy'][a.early - 1] for r in rs])} | "
                        f"{_ms([r['test_accuracy'][-1] for r in rs])} | {statistics.median(to):g} "
                        f"(max {max(to)}) |")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=("digits", "mnist1d"), default="digits")
    p.add_argument("--per-class", type=int, nargs="+", default=[10, 20])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--early", type=int, default=10, help="the early epoch the table reports")
    p.add_argument("--source-epochs", type=int, default=30)
    p.add_argument("--hidden", type=int, nargs="+", default=[100, 100])
    p.add_argument("--activation", default="relu")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--target", type=float, default=0.85)
    p.add_argument("--out", default=RESULTS)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewExamplesWarning)  # few labels is the point here
        out = run(a)
    src = [s["train_accuracy"] for s in out["source"]]
    md = table(out, a)
    print(f"source nets ({a.data} 0-4), training accuracy {_ms(src)}\n{md}")
    print("logistic probe on all labels of 5-9, test accuracy by features (net-depth):",
          {k: round(v, 3) for k, v in out["probe"].items()})
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, f"transfer_{a.data}.json"), "w") as fh:
        json.dump({"settings": vars(a), "torch": torch.__version__, "table": md, **out}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
