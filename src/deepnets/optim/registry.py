"""Optimizers by name, as a TOML experiment gives them."""

from __future__ import annotations

import torch

from .._registry import lookup
from ..errors import ConfigError
from .conjugate_gradient import ConjugateGradient
from .delta_bar_delta import DeltaBarDelta
from .ekf import EKF, DecoupledEKF
from .lm import LevenbergMarquardt
from .memoryless_qn import MemorylessQuasiNewton
from .quickprop import Quickprop
from .scaled_conjugate_gradient import ScaledConjugateGradient

__all__ = ["OPTIMIZERS", "NEEDS_CLOSURE", "build_optimizer"]

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    # torch's own
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "lbfgs": torch.optim.LBFGS,
    # first-order, per-weight adaptive
    "delta_bar_delta": DeltaBarDelta,
    "quickprop": Quickprop,
    # second-order, step(closure) only
    "conjugate_gradient": ConjugateGradient,
    "scaled_conjugate_gradient": ScaledConjugateGradient,
    "memoryless_qn": MemorylessQuasiNewton,
    # extended Kalman filters: step(closure) with a closure returning (outputs, targets)
    "ekf": EKF,
    "decoupled_ekf": DecoupledEKF,
    # Levenberg-Marquardt on the LMS error, the same closure as the Kalman filters'
    "lm": LevenbergMarquardt,
}

# Optimizers that must be given a closure and a single parameter group (full or large batches).
NEEDS_CLOSURE: frozenset[str] = frozenset(
    {"lbfgs", "conjugate_gradient", "scaled_conjugate_gradient", "memoryless_qn", "ekf", "decoupled_ekf",
     "lm"}
)


def build_optimizer(name: str, params, **kwargs) -> torch.optim.Optimizer:
    """``OPTIMIZERS[name](params, **kwargs)``, with user mistakes raised as ConfigError.

    >>> w = torch.zeros(2, requires_grad=True)
    >>> type(build_optimizer("quickprop", [w], lr=0.1, mu=1.75)).__name__
    'Quickprop'
    """
    factory = lookup(name, OPTIMIZERS, what="optimizer")
    try:
        return factory(params, **kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"optimizer {name!r}: {err}") from None
