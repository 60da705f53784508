"""Hessian-vector products by double backward: Hv = ∇_w (∇_w E · v).

The exact Hessian of any scalar E(w) times a vector, at the cost of about two backward passes
and never forming the P×P matrix (Pearlmutter 1994).

>>> import torch
>>> w = torch.tensor([1.0, 2.0], requires_grad=True)
>>> hessian_vector_product(lambda: (w ** 3).sum(), [w], [torch.tensor([1.0, 1.0])])
[tensor([ 6., 12.])]
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from ..errors import ConfigError


def hessian_vector_product(loss_fn: Callable[[], Tensor], params: Sequence[Tensor],
                           v: Sequence[Tensor]) -> list[Tensor]:
    """H v for the scalar ``loss_fn()`` with respect to ``params``; v shaped like ``params``.

    Hv = ∂/∂w [ (∂E/∂w)^T v ]: the gradient is taken with ``create_graph=True`` so that its inner
    product with v can be differentiated once more.

    Args:
        loss_fn: computes the scalar E from the current ``params``.
        params: the tensors w (requires_grad=True).
        v: one tensor per parameter, same shapes.

    Reference: Pearlmutter 1994, "Fast exact multiplication by the Hessian".
    """
    if len(v) != len(params):
        raise ConfigError(f"expected {len(params)} vector parts (one per parameter), got {len(v)}")
    for p, vi in zip(params, v):
        if vi.shape != p.shape:
            raise ConfigError(f"vector part of shape {tuple(vi.shape)} does not match parameter "
                              f"of shape {tuple(p.shape)}")
    with torch.enable_grad():
        E = loss_fn()
        grads = torch.autograd.grad(E, params, create_graph=True)
        Hv = torch.autograd.grad(grads, params, grad_outputs=list(v), allow_unused=True)
    return [h if h is not None else torch.zeros_like(p) for h, p in zip(Hv, params)]
