"""PNG plots of a run: learning curves, confusion matrix, per-layer error-signal norms.

Every figure is built without pyplot's global state and written atomically (:mod:`.figure`).
"""

from __future__ import annotations

from .figure import new_figure, save_png


def learning_curve(history: dict, path, *, title: str = "") -> None:
    """Training and validation loss per epoch (log scale), and validation metrics beside them."""
    metrics = [k for k in history if k.startswith("val_") and k != "val_loss"]
    fig, axes = new_figure(1, 1 + bool(metrics), figsize=(5.5 * (1 + bool(metrics)), 4), squeeze=False)
    ax = axes[0][0]
    for key in ("loss", "val_loss"):
        if key in history and history[key]:
            ax.plot(range(1, len(history[key]) + 1), history[key], label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost E")
    if all(v > 0 for k in ("loss", "val_loss") for v in history.get(k, [])):
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    if metrics:
        ax2 = axes[0][1]
        for key in metrics:
            ax2.plot(range(1, len(history[key]) + 1), history[key], label=key)
        ax2.set_xlabel("epoch")
        ax2.legend()
        ax2.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    save_png(fig, path)


def confusion_matrix(counts, path, *, title: str = "") -> None:
    """A C×C matrix of counts: rows are true classes, columns predicted ones."""
    C = len(counts)
    fig, ax = new_figure(figsize=(1.0 + 0.45 * C, 0.8 + 0.45 * C))
    ax.imshow(counts, cmap="Blues")
    peak = max(max(r) for r in counts) or 1
    for i in range(C):
        for j in range(C):
            ax.text(j, i, str(counts[i][j]), ha="center", va="center", fontsize=8,
                    color="white" if counts[i][j] > peak / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(C))
    ax.set_yticks(range(C))
    ax.set_title(title or "confusion matrix (test)")
    save_png(fig, path)


def costate_norms(curves: dict, path, *, title: str = "") -> None:
    """Mean per-sample norms ‖δ(l)‖ per layer l, one line per moment of training (log scale)."""
    fig, ax = new_figure(figsize=(5.5, 4))
    for label, norms in curves.items():
        ax.plot(range(1, len(norms) + 1), norms, marker="o", label=label)
    ax.set_xlabel("layer l")
    ax.set_ylabel("mean ||delta(l)||")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or "error signals per layer")
    save_png(fig, path)
