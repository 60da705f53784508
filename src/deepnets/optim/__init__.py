"""Optimizers: the lecture's adaptive and second-order methods as torch.optim.Optimizers.

``OPTIMIZERS`` maps the names a TOML experiment uses to the classes (torch's own SGD, Adagrad,
Adam and L-BFGS included), so every one is built as ``OPTIMIZERS[name](params, **kwargs)`` and
driven as ``optimizer.step(closure)``.
"""

from __future__ import annotations

import torch

from .conjugate_gradient import BETA_RULES, ConjugateGradient, cg_direction
from .delta_bar_delta import DeltaBarDelta, delta_bar_delta
from .line_search import LineSearchResult, strong_wolfe
from .memoryless_qn import MemorylessQuasiNewton, memoryless_bfgs_direction
from .quickprop import Quickprop, quickprop_step
from .scaled_conjugate_gradient import ScaledConjugateGradient

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    # torch's own
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "adam": torch.optim.Adam,
    "lbfgs": torch.optim.LBFGS,
    # first-order, per-weight adaptive
    "delta_bar_delta": DeltaBarDelta,
    "quickprop": Quickprop,
    # second-order, step(closure) only
    "conjugate_gradient": ConjugateGradient,
    "scaled_conjugate_gradient": ScaledConjugateGradient,
    "memoryless_qn": MemorylessQuasiNewton,
}

# Optimizers that must be given a closure and a single parameter group (full or large batches).
NEEDS_CLOSURE: frozenset[str] = frozenset(
    {"lbfgs", "conjugate_gradient", "scaled_conjugate_gradient", "memoryless_qn"}
)

__all__ = [
    "OPTIMIZERS",
    "NEEDS_CLOSURE",
    # classes
    "DeltaBarDelta",
    "Quickprop",
    "ConjugateGradient",
    "ScaledConjugateGradient",
    "MemorylessQuasiNewton",
    # update rules and helpers
    "delta_bar_delta",
    "quickprop_step",
    "cg_direction",
    "BETA_RULES",
    "memoryless_bfgs_direction",
    "strong_wolfe",
    "LineSearchResult",
]
