"""The co-state training step of a deepnets MLP on buffers kept from step to step.

The same recursion as :func:`deepnets.backprop.costate_backward` (forward pass remembering ẑ(l),
terminal condition, δ(l) = λ(l) ∘ g'(ŷ(l)), ∂E/∂W(l) = δ(l) ẑ(l−1)ᵀ, λ(l−1) = W(l)ᵀ δ(l)) with the
same torch operations in the same order, so the numbers are bit for bit the same (tested against
the unbuffered step). What changes is where the results go: the hidden layers' ŷ(l) = W(l) ẑ(l−1)
+ b(l) and the co-states λ(l) are written into tensors allocated once per batch size, the hidden
nonlinearity is applied in place on ŷ(l) (ẑ(l) overwrites it: the backward pass needs ẑ(l) alone),
and δ(l) of a ReLU layer overwrites λ(l) (``threshold_backward`` into its own input). The output
layer, the terminal condition and the gradients (written into ``.grad``) are as before.
``benchmarks/bench_step.py`` measures the step: the buffers took 4-7% off the gradient part of a
digits or MNIST-1D step on the 2-core CPU when quiet (1 thread, batch 200), about 10% under load.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _numba
from ..activations import Logistic, ReLU, Tanh
from ..backprop import terminal_condition
from .costate_fused import fused_plan


def _forward_inplace(act, y: Tensor) -> Tensor:
    """g(y) written over y where g has an in-place torch kernel computing the same numbers."""
    kind = type(act)
    if kind is ReLU:
        return y.relu_()
    if kind is Tanh and act.alpha == 1.0 and act.scale == 1.0:
        return y.tanh_()
    if kind is Logistic and act.alpha == 1.0:
        return y.sigmoid_()
    return act(y)


def _delta_inplace(act, lam: Tensor, z: Tensor) -> Tensor:
    """δ = λ ∘ g'(ŷ), over λ for a ReLU (λ where ẑ > 0, else 0), as a new tensor otherwise."""
    if type(act) is ReLU:
        return torch.ops.aten.threshold_backward.grad_input(lam, z, 0.0, grad_input=lam)
    return act.delta(lam, z)


class CostateBuffers:
    """``gradients(x, target) -> E``: the co-state step of an MLP writing ∂E/∂W into ``.grad``.

    Args:
        params: ``model.flat_params()`` (W(1), b(1), ..., W(L), b(L); biases may be None).
        acts: ``model.activations`` (hidden ones, then the output unit).
        loss: the cost, as :func:`deepnets.backprop.terminal_condition` takes it.
        validate: check class labels at every step.

    One set of buffers is kept per (batch size, dtype, device): an epoch whose last batch is
    smaller holds two. The ẑ(l) and λ(l) of a step live until the next step overwrites them.
    """

    def __init__(self, params, acts, loss, *, validate: bool = True):
        self.params, self.acts, self.loss, self.validate = params, acts, loss, validate
        self.buffers: dict = {}
        # the fused CPU kernels where Numba may be used and the cost has one (else the torch path)
        self.fused = fused_plan(params, acts, loss) if _numba.available() else None

    def _buffers(self, x: Tensor):
        key = (x.shape[0], x.dtype, x.device)
        bufs = self.buffers.get(key)
        if bufs is None:
            N, fused = x.shape[0], self.fused
            widths = [self.params[2 * l].shape[0] for l in range(len(self.acts) - 1)]
            zs = [x.new_empty(N, m) for m in widths]     # ŷ(l), then ẑ(l), hidden layers
            lams = [x.new_empty(N, m) for m in widths]   # λ(l), then δ(l) for a ReLU
            out = views = None
            if fused is not None and fused.takes(x):     # ŷ(L), then δ(L); the kernels' views
                out = x.new_empty(N, self.params[-2].shape[0])
                views = fused.views(zs, lams, out)
                fused.flat_grads()
            bufs = self.buffers[key] = (zs, lams, out, views)
        return bufs

    def gradients_finite(self, params) -> bool | None:
        """Whether every ``.grad`` of ``params`` is finite, where the fused step keeps them in one
        flat tensor (one pass over it); None where it cannot tell at that cost."""
        return None if self.fused is None else self.fused.gradients_finite(params)

    def gradients(self, x: Tensor, target: Tensor, extra: list | None = None) -> Tensor:
        """E for the batch, ∂E/∂W(l) and ∂E/∂b(l) written into each ``.grad`` (overwritten);
        parameters that do not require a gradient get none. ``extra`` (aligned with ``params``,
        None entries for none) is a gradient added to each, a penalty's: a weight's is the input
        of its GEMM, ``addmm(extra, δᵀ, ẑ(l−1))``, at no extra pass over ``.grad`` (and where
        ``.grad`` is that extra tensor itself, the GEMM accumulates into it in place)."""
        was = torch.is_grad_enabled()
        torch._C._set_grad_enabled(False)
        try:
            return self._step(x, target, extra)
        finally:
            torch._C._set_grad_enabled(was)

    def _step(self, x: Tensor, target: Tensor, extra: list | None) -> Tensor:
        params, acts = self.params, self.acts
        L = len(acts)
        zbuf, lbuf, out, views = self._buffers(x)
        if views is not None and self.fused.takes_target(target, out):
            return self._step_fused(x, target, extra, zbuf, lbuf, out, views)
        zs = [x]
        for l in range(L - 1):  # hidden layers: ŷ(l) = ẑ(l−1) W(l)ᵀ + b(l) into its buffer, g in place
            W, b = params[2 * l], params[2 * l + 1]
            y = torch.mm(zs[-1], W.t(), out=zbuf[l]) if b is None else torch.addmm(b, zs[-1], W.t(), out=zbuf[l])
            zs.append(_forward_inplace(acts[l], y))
        zs.append(acts[-1](torch.nn.functional.linear(zs[-1], params[2 * L - 2], params[2 * L - 1])))
        E, lam, delta = terminal_condition(self.loss, zs[-1], target, acts[-1], validate=self.validate)
        for l in range(L - 1, -1, -1):
            W, b = params[2 * l], params[2 * l + 1]
            if l < L - 1 or delta is None:
                delta = _delta_inplace(acts[l], lam, zs[l + 1]) if l < L - 1 else acts[l].delta(lam, zs[l + 1])
            if W.requires_grad:
                _weight_grad(W, delta.t(), zs[l], None if extra is None else extra[2 * l])
            if b is not None and b.requires_grad:  # (M(l),) = Σ_n δ
                _bias_grad(b, delta, extra, l)
            if l > 0:
                lam = torch.mm(delta, W, out=lbuf[l - 1])  # λ(l−1) = W(l)ᵀ δ(l), row-wise
        return E

    def _step_fused(self, x, target, extra, zbuf, lbuf, out, views) -> Tensor:
        """The same step with the fused kernels (:mod:`deepnets.train.costate_fused`): the
        terminal condition and each hidden δ(l) with its bias gradient in one pass each."""
        params, fused = self.params, self.fused
        L = len(self.acts)
        zv, lv, lt, _, out_t, _, one = views
        zs = [x]
        z = x
        for l in range(L):  # ŷ(l) = ẑ(l−1) W(l)ᵀ + b(l) into its buffer; hidden g in place
            W, b = params[2 * l], params[2 * l + 1]
            y = zbuf[l] if l < L - 1 else out
            z = torch.mm(z, W.t(), out=y) if b is None else torch.addmm(b, z, W.t(), out=y)
            if l < L - 1:
                z = fused.forward[l](z)
                zs.append(z)
        E = fused.terminal(out, views, target, x.shape[0])  # δ(L) over ŷ(L), ∂E/∂b(L) into .grad
        delta, delta_t = out, out_t
        wgrads = fused.weight_grads
        for l in range(L - 1, -1, -1):
            W, b = params[2 * l], params[2 * l + 1]
            if l < L - 1:
                delta = lbuf[l]
                if fused.delta(l, delta, lv[l], zv[l], one):  # over λ(l), Σ_n δ into b's .grad
                    delta_t = lt[l]
                else:
                    delta = _delta_inplace(self.acts[l], delta, zs[l + 1])
                    delta_t = delta.t()
                    if b is not None and b.requires_grad:
                        _bias_grad(b, delta, None, l)
            g = W.grad
            if extra is None and g is not None and g is wgrads[l]:  # the flat .grad views: no checks
                torch.mm(delta_t, zs[l], out=g)
            elif W.requires_grad:
                _weight_grad(W, delta_t, zs[l], None if extra is None else extra[2 * l])
            if extra is not None and b is not None and b.requires_grad and extra[2 * l + 1] is not None:
                b.grad.add_(extra[2 * l + 1])
            if l > 0:
                torch.mm(delta, W, out=lbuf[l - 1])  # λ(l−1) = W(l)ᵀ δ(l), row-wise
        return E


def _bias_grad(b: Tensor, delta: Tensor, extra: list | None, l: int) -> None:
    """∂E/∂b(l) = Σ_n δ(l), (M(l),), written into ``b.grad`` (+ the extra gradient)."""
    g = _grad_slot(b)
    if g is None:
        g = b.grad = delta.sum(0)
    else:
        torch.sum(delta, 0, out=g)
    if extra is not None and extra[2 * l + 1] is not None:
        g.add_(extra[2 * l + 1])


def _weight_grad(W: Tensor, delta_t: Tensor, z: Tensor, add: Tensor | None) -> None:
    """∂E/∂W(l) = δᵀ ẑ(l−1), (M(l), M(l−1)), written into ``W.grad`` (+ ``add``, a penalty's)."""
    g = _grad_slot(W)
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


def _grad_slot(p: Tensor) -> Tensor | None:
    """``p.grad`` when the gradient can be written into it (its shape and dtype, outside any graph)."""
    g = p.grad
    return g if g is not None and g.shape == p.shape and g.dtype == p.dtype and not g.requires_grad else None
