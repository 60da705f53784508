"""Optimizers: the lecture's adaptive and second-order methods as torch.optim.Optimizers.

``OPTIMIZERS`` maps the names a TOML experiment uses to the classes (torch's own SGD, Adagrad,
Adam and L-BFGS included), so every one is built as ``OPTIMIZERS[name](params, **kwargs)`` and
driven as ``optimizer.step(closure)``; :func:`build_optimizer` does that and raises
:class:`deepnets.errors.ConfigError` for an unknown name or a bad argument.
"""

from __future__ import annotations

from .conjugate_gradient import BETA_RULES, ConjugateGradient, cg_direction
from .delta_bar_delta import DeltaBarDelta, delta_bar_delta
from .ekf import DECOUPLINGS, EKF, DecoupledEKF, ekf_update
from .lm import LevenbergMarquardt
from .line_search import LineSearchResult, strong_wolfe
from .memoryless_qn import MemorylessQuasiNewton, memoryless_bfgs_direction
from .quickprop import Quickprop, quickprop_step
from .registry import NEEDS_CLOSURE, OPTIMIZERS, build_optimizer
from .scaled_conjugate_gradient import ScaledConjugateGradient

__all__ = [
    "OPTIMIZERS",
    "NEEDS_CLOSURE",
    "build_optimizer",
    # classes
    "DeltaBarDelta",
    "Quickprop",
    "ConjugateGradient",
    "ScaledConjugateGradient",
    "MemorylessQuasiNewton",
    "EKF",
    "DecoupledEKF",
    "DECOUPLINGS",
    "ekf_update",
    "LevenbergMarquardt",
    # update rules and helpers
    "delta_bar_delta",
    "quickprop_step",
    "cg_direction",
    "BETA_RULES",
    "memoryless_bfgs_direction",
    "strong_wolfe",
    "LineSearchResult",
]
