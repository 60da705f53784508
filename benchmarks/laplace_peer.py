"""deepnets.bayes.Laplace side by side with laplace-torch: agreement and time.

laplace-torch is optional and imported lazily; install it outside the project's environment
(e.g. a venv that sees the same torch, plus ``pip install --no-deps laplace-torch
curvlinops-for-pytorch asdfghjkl backpack-for-pytorch torchmetrics opt-einsum einops unfoldNd
einconv linear_operator lightning-utilities`` with a constraints file pinning the torch version).

Two problems, float64, one thread:

- regression: z = sin(x₁) + 0.3 x₂ x₃ + noise, 400 samples, a 3-32-2 tanh net (trained by Adam);
  compared: the functional variance G H⁻¹ Gᵀ at 200 test points;
- classification: scikit-learn's digits, 1078 training samples, a 64-32-10 tanh net; compared:
  the probit / mean-field probabilities at the 359 test points.

For each approximation (full, diag, kron, last-layer full): the max relative difference of the
variances (regression) or the max absolute difference of the probabilities (classification),
and the wall time of fit + predict for each library (median of 3). Writes
``benchmarks/results/laplace_peer.json`` and prints a table.

    PYTHONPATH=src python benchmarks/laplace_peer.py
"""

from __future__ import annotations

import json
import os
import statistics
import time

import torch
from torch import nn

from deepnets import fit
from deepnets.bayes import Laplace

OUT = os.path.join(os.path.dirname(__file__), "results")
PAIRS = [("full", "all", "full"), ("diag", "all", "diagonal"), ("kron", "all", "kron"),
         ("full", "last_layer", "last_layer")]


def _train(net, x, y, loss, epochs=300):
    """Full-batch Adam (η = 0.01) through ``fit``."""
    fit(net, (x, y), loss=loss, optimizer=torch.optim.Adam(net.parameters(), lr=1e-2), epochs=epochs,
        batch_size=None)
    return net


def _timed(fn, repeats=3):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def regression(laplace):
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 3, generator=g)
    z = torch.stack([torch.sin(x[:, 0]) + 0.3 * x[:, 1] * x[:, 2], x[:, 0] - x[:, 1]], 1)
    z = z + 0.1 * torch.randn(600, 2, generator=g)
    xtr, ztr, xte = x[:400], z[:400], x[400:]
    torch.manual_seed(0)
    net = _train(nn.Sequential(nn.Linear(3, 32), nn.Tanh(), nn.Linear(32, 2)), xtr, ztr, nn.functional.mse_loss)
    alpha, beta = 1.0, 100.0
    rows = {}
    for structure, subset, ours in PAIRS:
        def peer():
            la = laplace.Laplace(net, "regression", subset_of_weights=subset, hessian_structure=structure,
                                 sigma_noise=beta ** -0.5, prior_precision=alpha)
            la.fit(DataLoader(TensorDataset(xtr, ztr), batch_size=400))
            return la(xte, pred_type="glm")[1].detach()

        def mine():
            return Laplace(net, approx=ours, alpha=alpha, beta=beta).fit(xtr).functional_covariance(xte)[1]

        Vp, tp = _timed(peer)
        Vm, tm = _timed(mine)
        rows[ours] = {"max_rel_diff_variance": float((Vm - Vp).abs().max() / Vp.abs().max()),
                      "seconds_deepnets": round(tm, 4), "seconds_laplace_torch": round(tp, 4),
                      "time_ratio_deepnets_over_peer": round(tm / tp, 3)}
    return rows


def classification(laplace):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from torch.utils.data import DataLoader, TensorDataset

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.2, random_state=0, stratify=y)
    Xtr, Xte, ytr = torch.tensor(Xtr)[:1078], torch.tensor(Xte), torch.tensor(ytr)[:1078]
    torch.manual_seed(0)
    net = _train(nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10)), Xtr, ytr,
                 nn.functional.cross_entropy, epochs=200)
    alpha = 1.0
    rows = {}
    for structure, subset, ours in PAIRS:
        def peer():
            la = laplace.Laplace(net, "classification", subset_of_weights=subset, hessian_structure=structure,
                                 prior_precision=alpha)
            la.fit(DataLoader(TensorDataset(Xtr, ytr), batch_size=1078))
            return la(Xte, pred_type="glm", link_approx="probit").detach()

        def mine():
            return Laplace(net, "multiclass", approx=ours, alpha=alpha).fit(Xtr).predict_proba(Xte)

        Pp, tp = _timed(peer)
        Pm, tm = _timed(mine)
        rows[ours] = {"max_abs_diff_probability": float((Pm - Pp).abs().max()),
                      "seconds_deepnets": round(tm, 4), "seconds_laplace_torch": round(tp, 4),
                      "time_ratio_deepnets_over_peer": round(tm / tp, 3)}
    return rows


def main():
    import laplace  # optional peer: imported only here

    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    res = {"laplace_torch": getattr(laplace, "__version__", "unknown"), "torch": torch.__version__,
           "regression": regression(laplace), "classification (digits)": classification(laplace)}
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "laplace_peer.json"), "w") as fh:
        json.dump(res, fh, indent=2)
    for task in ("regression", "classification (digits)"):
        print(f"\n{task}")
        print(f"{'approx':<12}{'max diff':>12}{'deepnets s':>12}{'laplace s':>12}{'ratio':>8}")
        for k, r in res[task].items():
            d = r.get("max_rel_diff_variance", r.get("max_abs_diff_probability"))
            print(f"{k:<12}{d:>12.2e}{r['seconds_deepnets']:>12.3f}{r['seconds_laplace_torch']:>12.3f}"
                  f"{r['time_ratio_deepnets_over_peer']:>8.2f}")


if __name__ == "__main__":
    main()
