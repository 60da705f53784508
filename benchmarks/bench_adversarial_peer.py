"""deepnets.adversarial beside IBM's Adversarial Robustness Toolbox (ART): the same attacks, time and points.

A 64-100-10 tanh MLP (logits) is trained plainly on the digits (pixels / 16 in [0, 1], split
65/10/25, 30 epochs of Adam); then both libraries attack its 450 test images, interleaved
A B A B over the repeats: FGSM at ε = 0.1 and PGD at ε = 0.1 with 10 steps of α = 0.025 from the
clean point (ART's random start draws from NumPy, so both start at x); ART takes the 450 images
in one batch, as deepnets does (its default is batches of 32). The table gives the median
wall time of each, the ratio ART / deepnets, the largest difference between the attacked images
and the attacked accuracy of each. JSON in benchmarks/results/adversarial_peer.json.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_adversarial_peer.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch
from torch import nn

from deepnets import fit
from deepnets.adversarial import fgsm, pgd
from deepnets.data import load_dataset, split

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=os.path.join(RESULTS, "adversarial_peer.json"))
    args = ap.parse_args(argv)
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier
    torch.set_num_threads(1)
    data = load_dataset("digits")
    parts = split(data, (0.65, 0.10, 0.25), seed=0, stratify=True)
    (xtr, ytr), (xte, yte) = parts.train, parts.test
    xtr, xte = xtr / 16, xte / 16
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 100), nn.Tanh(), nn.Linear(100, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(net, (xtr, ytr), loss="cross_entropy", optimizer="adam", lr=3e-3, epochs=30, batch_size=64, seed=0)
        clf = PyTorchClassifier(net.eval(), loss=nn.CrossEntropyLoss(), input_shape=(64,), nb_classes=10,
                                clip_values=(0.0, 1.0), device_type="cpu")
    x_np, y_np, clip, n = xte.numpy(), yte.numpy(), (0.0, 1.0), len(yte)  # ART in one batch, as deepnets
    runs = {
        "fgsm deepnets": lambda: fgsm(net, xte, yte, 0.1, clip=clip).numpy(),
        "fgsm ART": lambda: FastGradientMethod(clf, norm=np.inf, eps=0.1, batch_size=n).generate(x_np, y=y_np),
        "pgd deepnets": lambda: pgd(net, xte, yte, 0.1, steps=10, alpha=0.025, clip=clip, random_start=False).numpy(),
        "pgd ART": lambda: ProjectedGradientDescent(clf, norm=np.inf, eps=0.1, eps_step=0.025, max_iter=10,
                                                    num_random_init=0, batch_size=n, verbose=False).generate(x_np, y=y_np),
    }
    times = {k: [] for k in runs}
    points = {}
    for _ in range(args.repeats):  # interleaved: A B A B
        for name, run in runs.items():
            start = time.perf_counter()
            points[name] = run()
            times[name].append(time.perf_counter() - start)
    with torch.no_grad():
        acc = {k: float((net(torch.from_numpy(v)).argmax(1) == yte).double().mean()) for k, v in points.items()}
    out = {"repeats": args.repeats, "n_test": len(yte), "torch": torch.__version__}
    print("| attack | deepnets ms | ART ms | ART / deepnets | max abs diff | accuracy deepnets | accuracy ART |")
    print("|---|---|---|---|---|---|---|")
    for attack in ("fgsm", "pgd"):
        ours, theirs = f"{attack} deepnets", f"{attack} ART"
        t_ours, t_theirs = statistics.median(times[ours]), statistics.median(times[theirs])
        diff = float(np.abs(points[ours] - points[theirs]).max())
        out[attack] = {"deepnets_s": t_ours, "art_s": t_theirs, "ratio": t_theirs / t_ours, "max_abs_diff": diff,
                       "accuracy_deepnets": acc[ours], "accuracy_art": acc[theirs]}
        print(f"| {attack} | {1e3 * t_ours:.1f} | {1e3 * t_theirs:.1f} | {t_theirs / t_ours:.2f} | {diff:.1e} | "
              f"{100 * acc[ours]:.1f}% | {100 * acc[theirs]:.1f}% |")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
