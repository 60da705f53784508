"""The training loop, its callbacks, metrics and optimizers by name."""

from .batches import BatchLoss, BatchSource, batch_loss
from .callbacks import (Callback, Checkpointer, ClipGradNorm, DivergenceGuard, EarlyStopping, GracefulStop, History,
                        JsonLinesLogger, LRScheduler, NonFiniteGuard, ProgressBar, RestartOnStall)
from .checkpoint import CheckpointManager
from .freeze import freeze, frozen, trainable, unfreeze
from .hints import HintedLoss, HintedModel, hint_targets, hinted_loss, strip_hints, with_hints
from .loop import FewExamplesWarning, Loop, TensorBatches, evaluate, fit
from .metrics import METRICS, accuracy, mse, nmse, rmse
from .optimizers import make_optimizer, param_groups
from .multistart import MultiStartResult, multistart
from .multitask import MultiTaskLoss, MultiTaskModel
from .pretrain import PRETRAINERS, autoencoder_layer, greedy_pretrain, pretrain_mlp
from .perceptron import PerceptronResult, perceptron
from .rbm import RBMHistory, cd_gradient, check_probabilities, rbm_layer, train_rbm
from .seq2seq import (LR_SCHEDULES, Seq2SeqModel, Seq2SeqTrainConfig, TeacherForcedLoss, evaluate_seq2seq,
                      sequence_loss, strip_ids, teacher_forced_loss, train_seq2seq, translate, trim_padding)
from .tbptt import CarriedStateLoss, SequenceChunks, truncated_bptt
from .semisupervised import PairSet, SemiSupervisedBatches, SemiSupervisedLoss, neighbour_pairs
from .select import (bootstrap_632, blocked_indices, cross_validate, err632, fit_experiment, kfold_indices,
                     noise_variance, prediction_error, select_hidden_size)

__all__ = [
    "fit", "evaluate", "Loop", "TensorBatches", "BatchSource", "BatchLoss", "batch_loss",
    "Callback", "History", "EarlyStopping", "NonFiniteGuard", "DivergenceGuard", "RestartOnStall", "ProgressBar", "Checkpointer",
    "GracefulStop", "ClipGradNorm", "LRScheduler", "JsonLinesLogger", "CheckpointManager",
    "METRICS", "accuracy", "mse", "nmse", "rmse", "make_optimizer", "param_groups", "FewExamplesWarning",
    "HintedModel", "HintedLoss", "with_hints", "hinted_loss", "hint_targets", "strip_hints",
    "multistart", "MultiStartResult",
    # transfer and multi-task learning: named parts frozen/unfrozen, shared trunk + weighted heads
    "freeze", "unfreeze", "trainable", "frozen", "MultiTaskModel", "MultiTaskLoss",
    # the perceptron rule (Rosenblatt 1958): a threshold unit without gradients
    "perceptron", "PerceptronResult",
    # restricted Boltzmann machines: CD-k (Hinton 2002), PCD (Tieleman 2008), one greedy pretraining layer
    "train_rbm", "cd_gradient", "RBMHistory", "rbm_layer", "check_probabilities",
    "kfold_indices", "blocked_indices", "cross_validate", "bootstrap_632", "err632", "prediction_error", "noise_variance",
    "fit_experiment", "select_hidden_size",
    # truncated BPTT through fit: chunks in time order, the state carried across them
    "truncated_bptt", "SequenceChunks", "CarriedStateLoss",
    # sequence-to-sequence: teacher forcing, greedy/beam evaluation by exact match and BLEU
    "train_seq2seq", "Seq2SeqTrainConfig", "Seq2SeqModel", "LR_SCHEDULES", "sequence_loss", "teacher_forced_loss",
    "TeacherForcedLoss", "evaluate_seq2seq", "translate", "strip_ids", "trim_padding",
    # semi-supervised learning: labelled steps, similar and dissimilar pair steps through fit
    "SemiSupervisedBatches", "SemiSupervisedLoss", "PairSet", "neighbour_pairs",
    # greedy layer-wise pretraining: one layer at a time on unlabelled data, then fit fine-tunes
    "greedy_pretrain", "pretrain_mlp", "PRETRAINERS", "autoencoder_layer",
]
