"""Gradient clipping: the gradient's norm held at most ``max_norm`` before each update."""

from __future__ import annotations

import torch

from ...errors import ConfigError
from .base import Callback


class ClipGradNorm(Callback):
    """Rescale the gradient of all trainable weights together so that its norm is at most ``max_norm``.

    After each backward pass, before the update (``on_after_backward``):
    g ← g · min(1, max_norm / ‖g‖_p), with ‖g‖_p over every trainable weight at once
    (``torch.nn.utils.clip_grad_norm_``). The norm before clipping is kept in ``self.norm``
    (a tensor: reading it does not wait for the device). Kalman-filter optimizers take no
    gradients from the loop and are not clipped.

    Args:
        max_norm: the largest norm let through (> 0).
        norm_type: p of the p-norm (``float("inf")`` for the max norm). Default 2.

    Reference: Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent neural
    networks", ICML.

    >>> import torch, deepnets
    >>> x, y = torch.randn(64, 3), 100 * torch.randn(64, 1)
    >>> clip = ClipGradNorm(0.1)
    >>> _ = deepnets.fit(torch.nn.Linear(3, 1), (x, y), optimizer="sgd", epochs=1, callbacks=[clip])
    >>> bool(clip.norm > 0.1)  # clipped: the update used a gradient of norm 0.1
    True
    """

    def __init__(self, max_norm: float, *, norm_type: float = 2.0):
        if not max_norm > 0:
            raise ConfigError(f"ClipGradNorm needs max_norm > 0, got {max_norm!r}")
        self.max_norm, self.norm_type = float(max_norm), float(norm_type)
        self.norm = None

    def on_after_backward(self, batch, loss):
        self.norm = torch.nn.utils.clip_grad_norm_(self.loop.params, self.max_norm, norm_type=self.norm_type)
