"""PNG of a series run's forecasts: the series against one-step forecasts, and NMSE per step."""

from __future__ import annotations

from .figure import new_figure, save_png


def forecast_plot(times, truth, one_step: dict, by_step: dict, path, *, title: str = "", segment: str = "test") -> None:
    """Left: observed y_t and each model's one-step forecast over ``times``; right: NMSE of the
    iterated forecast at steps 1..h for each model (log scale), empty when the segment is short.

    Args:
        times, truth: time indices and observed values (sequences of equal length).
        one_step: label -> one-step forecasts at ``times``.
        by_step: label -> NMSE at steps 1..h (may be empty).
    """
    fig, (ax, ax2) = new_figure(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [2, 1]})
    ax.plot(times, truth, color="black", lw=1.4, label="observed y")
    for label, pred in one_step.items():
        ax.plot(times, pred, lw=1.0, label=f"{label}, one-step")
    ax.set_xlabel(f"t ({segment} segment)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    for label, curve in by_step.items():
        ax2.plot(range(1, len(curve) + 1), curve, marker="o", ms=3, label=label)
    ax2.set_xlabel("steps ahead (predictions fed back)")
    ax2.set_ylabel("NMSE")
    if by_step and all(v > 0 for c in by_step.values() for v in c):
        ax2.set_yscale("log")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    save_png(fig, path)
