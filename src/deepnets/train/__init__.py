"""The training loop, its callbacks, metrics and optimizers by name."""

from .callbacks import Callback, EarlyStopping, History, NonFiniteGuard, RestartOnStall
from .loop import Loop, TensorBatches, evaluate, fit
from .metrics import METRICS, accuracy, mse, rmse
from .optimizers import make_optimizer, param_groups
from .progress import ProgressBar

__all__ = [
    "fit", "evaluate", "Loop", "TensorBatches",
    "Callback", "History", "EarlyStopping", "NonFiniteGuard", "RestartOnStall", "ProgressBar",
    "METRICS", "accuracy", "mse", "rmse", "make_optimizer", "param_groups",
]
