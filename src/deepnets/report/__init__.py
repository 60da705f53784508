"""Plots and reports of runs."""

from .plots import confusion_matrix, costate_norms, learning_curve
from .selection import size_selection

__all__ = ["learning_curve", "confusion_matrix", "costate_norms", "size_selection"]
