"""deepnets: the methods of a classic course on multilayer perceptrons and deep networks, on PyTorch.

The top level holds the lecture's core: the MLP with its co-state back-propagation, the training
loop and its callbacks, losses, activations, the lecture's optimizers and regularizers, errors and
the datasets. Everything else is reached through its subpackage: layers in :mod:`deepnets.nn`,
whole networks in :mod:`deepnets.zoo` (``deepnets.zoo.Captioner``), Laplace posteriors in
:mod:`deepnets.bayes`, pruning in :mod:`deepnets.prune`, model selection and hints in
:mod:`deepnets.train`.

The names are loaded on first use (PEP 562's module ``__getattr__``): ``import deepnets`` alone
does not import torch, so ``deepnets --help`` answers at once; ``deepnets.MLP`` imports what it needs.

>>> import deepnets
>>> net = deepnets.MLP([64, 100, 10], activation="tanh", output="softmax", seed=0)
>>> sum(p.numel() for p in net.parameters())
7510
"""

import importlib as _importlib

from ._version import __version__
from .errors import (CheckpointError, ConfigError, DataError, DeepnetsError, TrainingDiverged,
                     TrainingInterrupted)

#: module (relative to deepnets; "" for the subpackages themselves) -> the names taken from it on first use
_LAZY = {
    "": ("bayes", "curvature", "data", "nn", "optim", "prune", "seq", "train", "zoo"),
    "activations": ("ACTIVATIONS", "Activation", "get_activation"),
    "backprop": ("costate_recursion", "costates"),
    "data": ("Scaler", "load_dataset", "split"),
    "losses": ("CrossEntropy", "LMS", "Lp", "get_loss"),
    "nn": ("MLP",),
    "optim": ("EKF", "ConjugateGradient", "DecoupledEKF", "DeltaBarDelta", "MemorylessQuasiNewton", "Quickprop",
              "ScaledConjugateGradient"),
    "regularizers": ("CurvatureSmoothing", "WeightDecay", "WeightElimination"),
    "train": ("Callback", "CheckpointManager", "Checkpointer", "EarlyStopping", "GracefulStop", "History",
              "JsonLinesLogger", "NonFiniteGuard", "ProgressBar", "RestartOnStall", "evaluate", "fit"),
}
_SOURCE = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str):
    """Import a top-level name's module on first use and keep the name (PEP 562)."""
    module = _SOURCE.get(name)
    if module is None:
        raise AttributeError(f"module 'deepnets' has no attribute {name!r}")
    value = (_importlib.import_module(f"{__name__}.{name}") if module == ""
             else getattr(_importlib.import_module(f"{__name__}.{module}"), name))
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_SOURCE))


__all__ = [
    # subpackages: layers, whole networks, optimizers, curvature, pruning, Bayes, data, sequences, training
    "nn", "zoo", "optim", "curvature", "prune", "bayes", "data", "seq", "train",
    # the multilayer perceptron and its back-propagation as a co-state recursion
    "MLP", "costates", "costate_recursion",
    # training: the loop, evaluation, and the callbacks that plug into it (called in Keras's order)
    "fit", "evaluate", "Callback", "History", "EarlyStopping", "NonFiniteGuard", "RestartOnStall",
    "ProgressBar", "JsonLinesLogger", "Checkpointer", "GracefulStop", "CheckpointManager",
    # losses (one meaning per name) and activations (with their derivatives g')
    "LMS", "Lp", "CrossEntropy", "get_loss", "Activation", "ACTIVATIONS", "get_activation",
    # the lecture's optimizers and regularizers
    "DeltaBarDelta", "Quickprop", "ConjugateGradient", "ScaledConjugateGradient", "MemorylessQuasiNewton",
    "EKF", "DecoupledEKF", "WeightDecay", "WeightElimination", "CurvatureSmoothing",
    # errors: a user's mistake raises a DeepnetsError subclass
    "DeepnetsError", "ConfigError", "DataError", "CheckpointError", "TrainingDiverged", "TrainingInterrupted",
    # data: the dataset registry, the lecture's split, scaling fitted on the training part
    "load_dataset", "split", "Scaler",
]
