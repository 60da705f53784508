"""Every figure deepnets draws, as PNGs written atomically, without pyplot's global state."""

from .calibration import reliability_diagram
from .figure import new_figure, save_png
from .forecast_plot import forecast_plot
from .plots import confusion_matrix, costate_norms, learning_curve
from .relevance import plot_relevance
from .selection import size_selection

__all__ = ["learning_curve", "confusion_matrix", "costate_norms", "size_selection", "forecast_plot",
           "reliability_diagram", "plot_relevance", "new_figure", "save_png"]
