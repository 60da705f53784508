"""Plots and reports of runs."""

from .plots import confusion_matrix, costate_norms, learning_curve

__all__ = ["learning_curve", "confusion_matrix", "costate_norms"]
