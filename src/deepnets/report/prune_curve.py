"""The figure of a pruning path: the metric on a held-out split against the fraction of weights removed."""

from __future__ import annotations

from .figure import new_figure, save_png


def prune_curve(rows: list[dict], metric: str, path, *, title: str = "") -> None:
    """``metric`` (accuracy or RMSE) against sparsity, one point per row ``{"sparsity", metric}``,
    the unpruned net's value as a dashed line."""
    fig, ax = new_figure()
    ax.plot([100 * r["sparsity"] for r in rows], [r[metric] for r in rows], marker=".")
    ax.axhline(rows[0][metric], color="gray", ls="--", lw=1, label="unpruned")
    ax.set_xlabel("weights removed (%)")
    ax.set_ylabel(metric)
    ax.legend()
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    save_png(fig, path)
