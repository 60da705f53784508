"""A figure that touches no global state, written atomically as a PNG.

Figures are built with matplotlib's object API (``matplotlib.figure.Figure``), not pyplot: no
backend is chosen or forced for the whole process, no figure is left registered in pyplot's
global list, and a user's own pyplot session (an interactive backend, open windows) is left alone.
The PNG is rendered into memory and written through :func:`deepnets.atomic.write_atomic`, so a
crash never leaves a half-written file.
"""

from __future__ import annotations

import io

from ..atomic import write_atomic


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize=(5.5, 4), squeeze: bool = True, **subplots):
    """``(fig, axes)`` as ``plt.subplots`` gives them, without pyplot (matplotlib is imported here,
    at first use, so that importing deepnets stays quick)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze, **subplots)


def save_png(fig, path, *, dpi: int = 110) -> None:
    """Render ``fig`` as a PNG in memory and write it to ``path`` atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    write_atomic(path, buf.getvalue(), what="plot")
