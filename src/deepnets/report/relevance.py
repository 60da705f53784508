"""The input relevances found by ARD (MacKay 1994; Neal 1996), as a bar plot."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor

from .figure import new_figure, save_png


def plot_relevance(names: Sequence[str], relevance: Tensor, path, *, title: str = "") -> None:
    """Write a PNG bar plot of relevance 1/α_j per input (log scale: ARD separates by decades)."""
    fig, ax = new_figure(figsize=(max(4.0, 0.35 * len(names) + 1.5), 3.5))
    ax.bar(range(len(names)), relevance.detach().cpu().numpy(), color="tab:blue")
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=90 if len(names) > 12 else 45, fontsize=7, ha="right")
    ax.set(ylabel="relevance 1/α (prior variance)", title=title or "ARD input relevance")
    save_png(fig, path, dpi=120)
