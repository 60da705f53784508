"""The training loop, its callbacks, metrics and optimizers by name."""

from .callbacks import Callback, EarlyStopping, History, NonFiniteGuard, RestartOnStall
from .hints import HintedLoss, HintedModel, hint_targets, hinted_loss, strip_hints, with_hints
from .loop import FewExamplesWarning, Loop, TensorBatches, evaluate, fit
from .forecast import forecast_report
from .metrics import METRICS, accuracy, mse, nmse, rmse
from .optimizers import make_optimizer, param_groups
from .multistart import MultiStartResult, multistart
from .progress import ProgressBar
from .select import (bootstrap_632, cross_validate, err632, fit_experiment, kfold_indices, noise_variance,
                     prediction_error, select_hidden_size)

__all__ = [
    "fit", "evaluate", "Loop", "TensorBatches",
    "Callback", "History", "EarlyStopping", "NonFiniteGuard", "RestartOnStall", "ProgressBar",
    "METRICS", "accuracy", "mse", "nmse", "rmse", "forecast_report", "make_optimizer", "param_groups", "FewExamplesWarning",
    "HintedModel", "HintedLoss", "with_hints", "hinted_loss", "hint_targets", "strip_hints",
    "multistart", "MultiStartResult",
    "kfold_indices", "cross_validate", "bootstrap_632", "err632", "prediction_error", "noise_variance",
    "fit_experiment", "select_hidden_size",
]
