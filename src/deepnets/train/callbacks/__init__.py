"""Callbacks: everything optional in training, called by :func:`deepnets.fit` in Keras's order.

One callback a file: :mod:`.base` (the protocol, :class:`CallbackList`, :class:`History`),
:mod:`.early_stopping`, :mod:`.checkpointer` (saves, and resumes), :mod:`.graceful_stop`,
:mod:`.progress`, :mod:`.non_finite_guard`, :mod:`.divergence`, :mod:`.restarts`, :mod:`.clip_grad`,
:mod:`.lr_scheduler`, :mod:`.loggers`. The order of the hooks is given in :mod:`.base`.
"""

from .base import Callback, CallbackList, History
from .checkpointer import Checkpointer
from .clip_grad import ClipGradNorm
from .divergence import DivergenceGuard
from .early_stopping import EarlyStopping
from .graceful_stop import GracefulStop
from .loggers import JsonLinesLogger
from .lr_scheduler import LRScheduler
from .non_finite_guard import NonFiniteGuard
from .progress import ProgressBar
from .restarts import RestartOnStall

__all__ = ["Callback", "CallbackList", "History", "EarlyStopping", "Checkpointer", "GracefulStop", "ProgressBar",
           "NonFiniteGuard", "DivergenceGuard", "RestartOnStall", "ClipGradNorm", "LRScheduler", "JsonLinesLogger"]
