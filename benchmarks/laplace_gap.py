"""The regression predictive ẑ(x) ± 2σ_z(x) of a Laplace posterior on 1-D data with a gap.

Data: z = sin(1.5 x) + N(0, 0.1²) at 40 points on [−3, −0.5] ∪ [1.5, 4] (a gap in between).
A 1-12-1 tanh MLP is trained by MacKay's evidence framework (``evidence_ard``: L-BFGS MAP
training alternating with the re-estimation of α per weight group and β); then the Laplace
posterior with those α, β gives Σ_z(x) = 1/β + ∇fᵀ H⁻¹ ∇f for each approximation. Writes
``benchmarks/results/laplace_gap.png`` (one panel per approximation) and ``laplace_gap.json``
(σ_z at the data, in the gap and beyond), and prints a table.

    PYTHONPATH=src python benchmarks/laplace_gap.py
"""

from __future__ import annotations

import json
import os

import torch

from deepnets import MLP
from deepnets.bayes import POSTERIORS, Laplace, evidence_ard

OUT = os.path.join(os.path.dirname(__file__), "results")


def data(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, 1, generator=g, dtype=torch.float64) * 2.5
    x = torch.where(torch.rand(n, 1, generator=g, dtype=torch.float64) < 0.5, -0.5 - u, 1.5 + u)
    return x, torch.sin(1.5 * x) + 0.1 * torch.randn(n, 1, generator=g, dtype=torch.float64)


def main():
    torch.set_num_threads(1)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = data()
    net = MLP([1, 12, 1], activation="tanh", seed=0, dtype=torch.float64)
    ev = evidence_ard(net, x, y, alpha=0.1, outer=8, inner=100)
    grid = torch.linspace(-7, 8, 301, dtype=torch.float64)[:, None]
    probes = {"data (mean over x_n)": None, "gap x=0.5": 0.5, "beyond x=-6": -6.0, "beyond x=7": 7.0}
    fig, axes = plt.subplots(1, len(POSTERIORS), figsize=(4 * len(POSTERIORS), 3.4), sharey=True)
    table = {"beta": float(ev.beta[0]), "gamma": float(ev.gamma.sum()), "sigma_z": {}}
    for ax, approx in zip(axes, POSTERIORS):
        alpha = float(ev.weight_alpha.mean()) if approx == "kron" else ev.weight_alpha
        la = Laplace(net, approx=approx, alpha=alpha, beta=ev.beta).fit(x)
        mean, cov = la.predict(grid)
        s = cov[:, 0, 0].sqrt()
        row = {"data (mean over x_n)": float(la.predict(x)[1][:, 0, 0].sqrt().mean())}
        for k, v in probes.items():
            if v is not None:
                row[k] = float(la.predict(torch.tensor([[v]], dtype=torch.float64))[1][0, 0, 0].sqrt())
        table["sigma_z"][approx] = row
        g, m = grid[:, 0].numpy(), mean[:, 0].numpy()
        ax.fill_between(g, m - 2 * s.numpy(), m + 2 * s.numpy(), color="tab:blue", alpha=0.25, label="±2σ_z")
        ax.plot(g, m, color="tab:blue", label="ẑ(x)")
        ax.plot(g, torch.sin(1.5 * grid[:, 0]).numpy(), color="0.5", ls="--", lw=1, label="sin 1.5x")
        ax.scatter(x[:, 0].numpy(), y[:, 0].numpy(), s=8, color="k", zorder=3, label="data")
        ax.set(title=f"Laplace: {approx}", xlabel="x", ylim=(-4, 4))
    axes[0].set_ylabel("z")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    os.makedirs(OUT, exist_ok=True)
    fig.savefig(os.path.join(OUT, "laplace_gap.png"), dpi=110)
    with open(os.path.join(OUT, "laplace_gap.json"), "w") as fh:
        json.dump(table, fh, indent=2)
    print(f"evidence: beta {table['beta']:.1f} (noise sd {table['beta'] ** -0.5:.3f}), gamma {table['gamma']:.1f}")
    cols = list(probes)
    print(f"{'approx':<11}" + "".join(f"{c:>22}" for c in cols))
    for approx, row in table["sigma_z"].items():
        print(f"{approx:<11}" + "".join(f"{row[c]:>22.3f}" for c in cols))


if __name__ == "__main__":
    main()
