"""The reliability diagram of predicted class probabilities (Guo et al. 2017, fig. 1)."""

from __future__ import annotations

from ..bayes.calibration import ece, reliability_bins
from .figure import new_figure, save_png


def reliability_diagram(curves: dict, path, *, n_bins: int = 15, title: str = "") -> None:
    """Write a PNG: accuracy against confidence per bin for each ``name -> (p, y)``, with the diagonal
    (a perfectly calibrated model lies on it); each curve's label gives its expected calibration error."""
    fig, ax = new_figure(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    for name, (p, y) in curves.items():
        r = reliability_bins(p, y, n_bins)
        nz = r["count"] > 0
        ax.plot(r["confidence"][nz].numpy(), r["accuracy"][nz].numpy(), marker="o", ms=4,
                label=f"{name} (ECE {ece(p, y, n_bins):.3f})")
    ax.set(xlabel="confidence (max p)", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1), title=title)
    ax.legend(loc="upper left", fontsize=8)
    save_png(fig, path, dpi=120)
