"""Writing a co-state step's results into place: ẑ(l) and δ(l) over their buffers, ∂E/∂W into ``.grad``.

Shared by the torch path (:mod:`deepnets.train.costate_buffers`) and the fused one
(:mod:`deepnets.train.costate_fused`); each function is the same torch ops as
:func:`deepnets.backprop.costate_recursion` with the result written where it is kept:

    ẑ(l) = g(ŷ(l)) over ŷ(l),   δ(l) = λ(l) ∘ g'(ŷ(l)) over λ(l) (ReLU),
    ∂E/∂W(l) = δ(l)ᵀ ẑ(l−1) (+ a penalty's gradient),   ∂E/∂b(l) = Σ_n δ(l)
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..activations import Logistic, ReLU, Tanh


def standard_unit(act) -> str | None:
    """``"relu"``, ``"tanh"`` or ``"logistic"`` for a hidden unit that is exactly that function
    (no slope or scale), whose in-place and fused kernels compute its numbers; None otherwise."""
    kind = type(act)
    if kind is ReLU:
        return "relu"
    if kind is Tanh and act.alpha == 1.0 and act.scale == 1.0:
        return "tanh"
    if kind is Logistic and act.alpha == 1.0:
        return "logistic"
    return None


_INPLACE = {"relu": Tensor.relu_, "tanh": Tensor.tanh_, "logistic": Tensor.sigmoid_}


def inplace_forward(act):
    """``f(y) -> g(y)`` written over y where torch has an in-place kernel computing the same
    numbers as ``act(y)`` (ReLU, tanh, logistic); ``act`` itself (a new tensor) otherwise."""
    return _INPLACE.get(standard_unit(act), act)


def delta_inplace(act, lam: Tensor, z: Tensor) -> Tensor:
    """δ = λ ∘ g'(ŷ), over λ for a ReLU (λ where ẑ > 0, else 0), as a new tensor otherwise."""
    if type(act) is ReLU:
        return torch.ops.aten.threshold_backward.grad_input(lam, z, 0.0, grad_input=lam)
    return act.delta(lam, z)


def bias_grad(b: Tensor, delta: Tensor, add: Tensor | None) -> None:
    """∂E/∂b(l) = Σ_n δ(l), (M(l),), written into ``b.grad`` (+ ``add``, a penalty's)."""
    g = grad_slot(b)
    if g is None:
        g = b.grad = delta.sum(0)
    else:
        torch.sum(delta, 0, out=g)
    if add is not None:
        g.add_(add)


def weight_grad(W: Tensor, delta_t: Tensor, z: Tensor, add: Tensor | None) -> None:
    """∂E/∂W(l) = δᵀ ẑ(l−1), (M(l), M(l−1)), written into ``W.grad`` (+ ``add``, a penalty's: the
    input of the GEMM, and where ``.grad`` is that tensor itself the GEMM accumulates into it)."""
    g = grad_slot(W)
    if add is g and g is not None:  # .grad holds the extra gradient already
        g.addmm_(delta_t, z)
    elif add is not None and g is None:
        W.grad = torch.addmm(add, delta_t, z)
    elif add is not None:
        torch.addmm(add, delta_t, z, out=g)
    elif g is None:
        W.grad = torch.mm(delta_t, z)
    else:
        torch.mm(delta_t, z, out=g)


def grad_slot(p: Tensor) -> Tensor | None:
    """``p.grad`` when the gradient can be written into it (its shape and dtype, outside any graph)."""
    g = p.grad
    return g if g is not None and g.shape == p.shape and g.dtype == p.dtype and not g.requires_grad else None
