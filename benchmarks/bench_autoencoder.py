"""Autoencoders beside PCA on the digits: held-out reconstruction error at the same code size r.

    python benchmarks/bench_autoencoder.py [--codes 8,16,32] [--seeds 0,1,2] [--epochs 150]
        [--threads 1] [--out benchmarks/results/autoencoder.json]

Per seed s: the digits (pixels / 16, in [0, 1]) split 70/30 (stratified, seed s); every model sees
the training part's pixels only and is scored by the mean squared error per pixel,
(1/(N p)) Σ_n ‖x_n − x̂_n‖², on the test part. One process, the methods interleaved per (r, seed),
so a busy neighbour slows all of them alike.

- ``PCA``: scikit-learn's, r components (the optimum of every linear code of size r).
- ``linear tied AE (L-BFGS)``: x̂ = Wᵀ(Wx + w_0) + v_0 trained to convergence by full-batch L-BFGS
  (strong Wolfe line search): it should land on PCA (Baldi & Hornik 1989).
- the others, trained by :func:`deepnets.fit` on (x, x) with E = ½‖x − x̂‖², Adam (η = 0.005),
  batch 64, ``--epochs`` epochs, linear decoder output:
  ``linear tied AE`` (the same model by Adam), ``sigmoid tied AE``, ``ReLU tied AE``,
  ``sigmoid untied AE`` (V of its own), ``stacked sigmoid AE`` (64-48-r-48-64, tied, trained end to
  end), ``denoising sigmoid AE`` (tied, masking noise ν = 0.25 in training; scored on clean inputs).

Times: the training call of each model (sklearn's ``fit`` for PCA), median over seeds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from deepnets import fit  # noqa: E402
from deepnets.zoo import Autoencoder, StackedAutoencoder  # noqa: E402
from _results import write_results
from _threads import limit_threads  # noqa: E402

LBFGS = dict(optimizer="lbfgs", lr=1.0, batch_size=None, shuffle=False, epochs=20,
             optimizer_options=dict(max_iter=100, tolerance_grad=1e-10, tolerance_change=1e-14,
                                    line_search_fn="strong_wolfe"))

#: name -> (model builder(r, seed), how it trains: "lbfgs" or "adam")
METHODS = {
    "linear tied AE (L-BFGS)": (lambda r, s: Autoencoder(64, r, "identity", seed=s), "lbfgs"),
    "linear tied AE": (lambda r, s: Autoencoder(64, r, "identity", seed=s), "adam"),
    "sigmoid tied AE": (lambda r, s: Autoencoder(64, r, "logistic", seed=s), "adam"),
    "ReLU tied AE": (lambda r, s: Autoencoder(64, r, "relu", init="he_normal", seed=s), "adam"),
    "sigmoid untied AE": (lambda r, s: Autoencoder(64, r, "logistic", tied=False, seed=s), "adam"),
    "stacked sigmoid AE": (lambda r, s: StackedAutoencoder([64, 48, r], "logistic", seed=s), "adam"),
    "denoising sigmoid AE": (lambda r, s: Autoencoder(64, r, "logistic", noise="mask", noise_level=0.25, seed=s),
                             "adam"),
}


def mse(x_hat: np.ndarray, x: np.ndarray) -> float:
    return float(((x_hat - x) ** 2).mean())


def run(r: int, seed: int, epochs: int) -> dict:
    x, y = load_digits(return_X_y=True)
    x_tr, x_te = train_test_split(x / 16.0, test_size=0.3, stratify=y, random_state=seed)
    row = {"code": r, "seed": seed}
    t0 = time.perf_counter()
    pca = PCA(n_components=r, random_state=seed).fit(x_tr)
    row["PCA"] = {"mse": mse(pca.inverse_transform(pca.transform(x_te)), x_te), "seconds": time.perf_counter() - t0}
    xt, xe = (torch.tensor(a, dtype=torch.float32) for a in (x_tr, x_te))
    for name, (build, how) in METHODS.items():
        ae = build(r, seed)
        options = LBFGS if how == "lbfgs" else dict(optimizer="adam", lr=0.005, batch_size=64, epochs=epochs)
        t0 = time.perf_counter()
        fit(ae, (xt, xt), loss="lms", seed=seed, **options)
        seconds = time.perf_counter() - t0
        ae.eval()
        with torch.no_grad():
            row[name] = {"mse": mse(ae(xe).numpy(), x_te), "seconds": seconds}
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--codes", default="8,16,32")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/autoencoder.json")
    args = p.parse_args(argv)
    limit_threads(args.threads)
    warnings.simplefilter("ignore")  # FewExamplesWarning: reconstruction, not a claim on new labels
    seeds, names = [int(s) for s in args.seeds.split(",")], ["PCA", *METHODS]
    runs, table = [], []
    for r in (int(c) for c in args.codes.split(",")):
        rows = [run(r, s, args.epochs) for s in seeds]
        runs += rows
        summary = {"code": r}
        for m in names:
            errs = [row[m]["mse"] for row in rows]
            summary[m] = {"mse_mean": statistics.mean(errs), "mse_sd": statistics.stdev(errs) if len(errs) > 1 else 0.0,
                          "seconds_median": statistics.median(row[m]["seconds"] for row in rows)}
        table.append(summary)
        print(f"r = {r} done", file=sys.stderr, flush=True)
    print("| method | " + " | ".join(f"r = {s['code']}: test MSE (time)" for s in table) + " |")
    print("|---|" + "---|" * len(table))
    for m in names:
        cells = [f"{s[m]['mse_mean']:.4f} ± {s[m]['mse_sd']:.4f} ({s[m]['seconds_median']:.2f} s)" for s in table]
        print(f"| {m} | " + " | ".join(cells) + " |")
    write_results(args.out, "bench_autoencoder.py", argv, args, table=table, runs=runs)


if __name__ == "__main__":
    main()
