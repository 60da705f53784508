"""The model-selection plot: training error, held-out error and PE against the hidden-layer size."""

from __future__ import annotations

from .figure import new_figure, save_png


def size_selection(rows, path, *, heldout: str = "validation", title: str = "") -> None:
    """Training error 2E/N, held-out error and PE = 2E/N + 2 N_W σ_e²/N against the size h (log x)."""
    fig, ax = new_figure(figsize=(6, 4))
    h = [r.size for r in rows]
    ax.plot(h, [r.train_error for r in rows], "o-", label="training error 2E/N")
    ax.plot(h, [r.heldout_error for r in rows], "s-", label=f"{heldout} error")
    ax.plot(h, [r.pe for r in rows], "^-", label="PE")
    best = min(rows, key=lambda r: r.pe)
    ax.axvline(best.size, color="grey", ls=":", label=f"least PE: {best.size}")
    if len(set(h)) > 1 and min(h) > 0:
        ax.set_xscale("log", base=2)
    ax.set_xlabel("hidden units per layer")
    ax.set_ylabel("squared error per sample")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        fig.suptitle(title)
    save_png(fig, path)
