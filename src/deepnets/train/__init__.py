"""The training loop, its callbacks, metrics and optimizers by name."""

from .callbacks import Callback, EarlyStopping, History, JsonLinesLogger, NonFiniteGuard, RestartOnStall
from .checkpoint import CheckpointManager
from .checkpointing import Checkpointer, GracefulStop
from .hints import HintedLoss, HintedModel, hint_targets, hinted_loss, strip_hints, with_hints
from .loop import FewExamplesWarning, Loop, TensorBatches, evaluate, fit
from .metrics import METRICS, accuracy, mse, nmse, rmse
from .optimizers import make_optimizer, param_groups
from .multistart import MultiStartResult, multistart
from .progress import ProgressBar
from .seq2seq import (LR_SCHEDULES, Seq2SeqModel, Seq2SeqTrainConfig, evaluate_seq2seq, sequence_loss,
                      strip_ids, teacher_forced_loss, train_seq2seq, translate, trim_padding)
from .tbptt import truncated_bptt
from .select import (bootstrap_632, cross_validate, err632, fit_experiment, kfold_indices, noise_variance,
                     prediction_error, select_hidden_size)

__all__ = [
    "fit", "evaluate", "Loop", "TensorBatches",
    "Callback", "History", "EarlyStopping", "NonFiniteGuard", "RestartOnStall", "ProgressBar",
    "JsonLinesLogger", "Checkpointer", "GracefulStop", "CheckpointManager",
    "METRICS", "accuracy", "mse", "nmse", "rmse", "make_optimizer", "param_groups", "FewExamplesWarning",
    "HintedModel", "HintedLoss", "with_hints", "hinted_loss", "hint_targets", "strip_hints",
    "multistart", "MultiStartResult",
    "kfold_indices", "cross_validate", "bootstrap_632", "err632", "prediction_error", "noise_variance",
    "fit_experiment", "select_hidden_size", "truncated_bptt",
    # sequence-to-sequence: teacher forcing, greedy/beam evaluation by exact match and BLEU
    "train_seq2seq", "Seq2SeqTrainConfig", "Seq2SeqModel", "LR_SCHEDULES", "sequence_loss", "teacher_forced_loss",
    "evaluate_seq2seq", "translate", "strip_ids", "trim_padding",
]
