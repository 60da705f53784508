"""deepnets: the methods of a classic course on multilayer perceptrons and deep networks, on PyTorch.

>>> import deepnets
>>> net = deepnets.MLP([64, 100, 10], activation="tanh", output="softmax", seed=0)
>>> sum(p.numel() for p in net.parameters())
7510
"""

from . import bayes, curvature, data, nn, optim, prune, regularizers, seq, zoo
from .activations import ACTIVATIONS, Activation, get_activation
from .backprop import costate_backward, costate_recursion, costates
from .data import DATASETS, Dataset, Scaler, load_dataset, split
from .errors import CheckpointError, ConfigError, DataError, DeepnetsError, TrainingDiverged
from .losses import LOSSES, CrossEntropy, LMS, Lp, code_targets, get_loss
from .bayes import EvidenceResult, Laplace, calibration_report, evidence_ard, reliability_diagram
from .nn import (GRU, LSTM, MLP, NARX, BatchNorm, Captioner, CharLM, CNN1d, Dropout, ElmanRNN, LayerNorm,
                 LinearAR, LSTMSeq2Seq, Pervasive2d, RecurrentNet, SequenceClassifier, TextClassifier, ToImage,
                 Transformer, WeightNormLinear, conv_output_shape, count_weights, iterated_forecast, truncated_bptt)
from .optim import (EKF, ConjugateGradient, DecoupledEKF, DeltaBarDelta, MemorylessQuasiNewton, Quickprop,
                    ScaledConjugateGradient)
from .regularizers import CurvatureSmoothing, WeightDecay, WeightElimination
from .train import (Callback, EarlyStopping, History, NonFiniteGuard, ProgressBar, RestartOnStall,
                    evaluate, fit)
from .train.checkpoint import CheckpointManager
from .train.callbacks import Checkpointer, GracefulStop
from .train.hints import HintedModel, hinted_loss, strip_hints, with_hints
from .train.multistart import multistart
from .train.select import bootstrap_632, cross_validate, prediction_error, select_hidden_size

__version__ = "0.1.0"

__all__ = [
    # subpackages
    "nn", "zoo", "optim", "curvature", "prune", "bayes", "data", "regularizers", "seq",
    # models and the co-state back-propagation
    "MLP", "costates", "costate_recursion", "costate_backward",
    # layers
    "Dropout", "BatchNorm", "LayerNorm", "WeightNormLinear", "conv_output_shape", "count_weights",
    "CNN1d", "ToImage", "ElmanRNN", "LSTM", "GRU", "RecurrentNet", "truncated_bptt",
    # sequences: delay-tap time-series models, language, classification and captioning
    "NARX", "LinearAR", "iterated_forecast", "CharLM", "SequenceClassifier", "TextClassifier", "Captioner",
    "Transformer", "LSTMSeq2Seq", "Pervasive2d",
    # the Laplace predictive posterior, evidence and ARD
    "Laplace", "evidence_ard", "EvidenceResult", "calibration_report", "reliability_diagram",
    # the lecture's optimizers and regularizers
    "DeltaBarDelta", "Quickprop", "ConjugateGradient", "ScaledConjugateGradient", "MemorylessQuasiNewton",
    "EKF", "DecoupledEKF", "WeightDecay", "WeightElimination", "CurvatureSmoothing",
    # activations and losses
    "Activation", "ACTIVATIONS", "get_activation", "LOSSES", "LMS", "Lp", "CrossEntropy", "get_loss",
    "code_targets",
    # training
    "fit", "evaluate", "Callback", "History", "EarlyStopping", "NonFiniteGuard", "RestartOnStall",
    "ProgressBar", "Checkpointer", "GracefulStop", "CheckpointManager",
    # the lecture's training practicalities and model selection
    "HintedModel", "with_hints", "hinted_loss", "strip_hints", "multistart", "cross_validate", "bootstrap_632",
    "prediction_error", "select_hidden_size",
    # data
    "DATASETS", "Dataset", "load_dataset", "split", "Scaler",
    # errors
    "DeepnetsError", "ConfigError", "DataError", "CheckpointError", "TrainingDiverged",
]
