"""What the extended Kalman filters and Levenberg-Marquardt share: a closure that measures the
network's outputs and the desired outputs, and the Jacobian H = ∂ẑ/∂w of those outputs.

Both optimizers minimise the LMS error ½ Σ (z − ẑ)² from the residuals e = z − ẑ and the rows
of H, one per measured output; H is taken by :func:`deepnets.curvature.output_jacobian` (one
batched reverse pass per output entry, the co-state recursion started from each unit vector).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from ..curvature import output_jacobian
from ..errors import ConfigError, DataError

__all__ = ["measure", "measurement_jacobian"]


def measure(closure: Callable, who: str) -> tuple[Tensor, Tensor]:
    """``(outputs, targets)`` from the closure, checked: outputs (N, ...) with their graph and
    targets of the same size, finite. ``who`` names the optimizer in the error messages."""
    if closure is None:
        raise ConfigError(f"{who}.step needs a closure returning (outputs, targets)")
    got = closure()
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        raise ConfigError(f"the {who} closure must return (outputs, targets), got {type(got).__name__}")
    outputs, targets = got
    if outputs.ndim < 1 or outputs.shape[0] != targets.shape[0] or outputs.numel() != targets.numel():
        raise DataError(f"outputs of shape {tuple(outputs.shape)} and targets of shape "
                        f"{tuple(targets.shape)} do not match")
    if not torch.isfinite(targets).all():
        raise DataError("targets contain NaN or inf")
    return outputs, targets


def measurement_jacobian(outputs: Tensor, params: Sequence[Tensor], start: int = 0,
                         stop: int | None = None) -> Tensor:
    """H = ∂ẑ/∂w of the samples ``outputs[start:stop]``, one row per output entry, (m, P).

    The graph of ``outputs`` is kept, so that further chunks of the same batch can be
    differentiated; the rows are in the order of ``outputs[start:stop].reshape(-1)``.
    """
    part = outputs[start:stop]
    P = sum(p.numel() for p in params)
    return output_jacobian(part, params).reshape(-1, P)
