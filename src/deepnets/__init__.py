"""deepnets: the methods of a classic course on multilayer perceptrons and deep networks, on PyTorch.

The top level holds the lecture's core: the MLP with its co-state back-propagation, the training
loop and its callbacks, losses, activations, the lecture's optimizers and regularizers, errors and
the datasets. Everything else is reached through its subpackage: layers in :mod:`deepnets.nn`,
whole networks in :mod:`deepnets.zoo` (``deepnets.zoo.Captioner``), Laplace posteriors in
:mod:`deepnets.bayes`, pruning in :mod:`deepnets.prune`, model selection and hints in
:mod:`deepnets.train`.

>>> import deepnets
>>> net = deepnets.MLP([64, 100, 10], activation="tanh", output="softmax", seed=0)
>>> sum(p.numel() for p in net.parameters())
7510
"""

from . import bayes, curvature, data, nn, optim, prune, seq, train, zoo
from ._version import __version__
from .activations import ACTIVATIONS, Activation, get_activation
from .backprop import costate_recursion, costates
from .data import Scaler, load_dataset, split
from .errors import (CheckpointError, ConfigError, DataError, DeepnetsError, TrainingDiverged,
                     TrainingInterrupted)
from .losses import CrossEntropy, LMS, Lp, get_loss
from .nn import MLP
from .optim import (EKF, ConjugateGradient, DecoupledEKF, DeltaBarDelta, MemorylessQuasiNewton, Quickprop,
                    ScaledConjugateGradient)
from .regularizers import CurvatureSmoothing, WeightDecay, WeightElimination
from .train import (Callback, CheckpointManager, Checkpointer, EarlyStopping, GracefulStop, History,
                    JsonLinesLogger, NonFiniteGuard, ProgressBar, RestartOnStall, evaluate, fit)

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
