"""Datasets: named generators and loaders."""

from .sequence_tasks import ADDING_BASELINE_MSE, adding_problem, copy_memory, copy_memory_baseline

__all__ = ["ADDING_BASELINE_MSE", "adding_problem", "copy_memory", "copy_memory_baseline"]
