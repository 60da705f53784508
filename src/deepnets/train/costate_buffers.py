"""The co-state training step of a deepnets MLP on buffers kept from step to step.

The same recursion as :func:`deepnets.backprop.costate_backward` (forward pass remembering ẑ(l),
terminal condition, δ(l) = λ(l) ∘ g'(ŷ(l)), ∂E/∂W(l) = δ(l) ẑ(l−1)ᵀ, λ(l−1) = W(l)ᵀ δ(l)). On
the torch path it runs the same torch operations in the same order, so the numbers are bit for
bit the same (tested against the unbuffered step). What changes is where the results go: the
hidden layers' ŷ(l) = W(l) ẑ(l−1) + b(l) and the co-states λ(l) are written into tensors
allocated once per batch size, the hidden nonlinearity is applied in place on ŷ(l) (ẑ(l)
overwrites it: the backward pass needs ẑ(l) alone), and δ(l) of a ReLU layer overwrites λ(l)
(``threshold_backward`` into its own input). The output layer, the terminal condition and the
gradients (written into ``.grad``) are as before.

On the CPU, where Numba may be used (:mod:`deepnets._numba`) and the cost and output unit have
a fused terminal condition, the step takes the fused path instead
(:mod:`deepnets.train.costate_fused`): the same GEMMs, with the small ops between them done in
one pass each, or where :mod:`deepnets.train.costate_whole` takes the net, the whole step (GEMMs
included) as one Numba call. ``DEEPNETS_NO_NUMBA=1`` keeps the torch path. ``benchmarks/bench_step.py``
measures both against the step's matrix products alone.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _numba
from ..backprop import terminal_condition
from .costate_fused import fused_plan
from .costate_grads import bias_grad, delta_inplace, inplace_forward, weight_grad


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

    def _buffers(self, x: Tensor, torch_path: bool = False):
        key = (x.shape[0], x.dtype, x.device, torch_path)
        bufs = self.buffers.get(key)
        if bufs is None:
            N, fused = x.shape[0], self.fused
            widths = [self.params[2 * l].shape[0] for l in range(len(self.acts) - 1)]
            out = views = None
            if fused is not None and not torch_path and fused.takes(x):  # feature-major (M(l), N), ŷ(L)ᵀ then δ(L)ᵀ (C, N)
                zs = [x.new_empty(m, N) for m in widths]
                lams = [x.new_empty(m, N) for m in widths]
                out = x.new_empty(self.params[-2].shape[0], N)
                views = fused.views(zs, lams, out)
            else:
                zs = [x.new_empty(N, m) for m in widths]     # ŷ(l), then ẑ(l), hidden layers
                lams = [x.new_empty(N, m) for m in widths]   # λ(l), then δ(l) for a ReLU
            bufs = self.buffers[key] = (zs, lams, out, views)
        return bufs

    def whole_plan(self, x: Tensor):
        """The whole-step kernel's plan (:class:`~deepnets.train.costate_whole.WholeStep`) for x's
        batch size, or None (none made yet, or the kernel does not take this net)."""
        bufs = self.buffers.get((x.shape[0], x.dtype, x.device, False))
        return None if bufs is None or bufs[3] is None else bufs[3][8]

    def gradients(self, x: Tensor, target: Tensor, extra: list | None = None, penalty: tuple | None = None) -> Tensor:
        """E for the batch, ∂E/∂W(l) and ∂E/∂b(l) written into each ``.grad`` (overwritten);
        parameters that do not require a gradient get none. ``extra`` (aligned with ``params``,
        None entries for none) is a gradient added to each, a penalty's: a weight's is the input
        of its GEMM, ``addmm(extra, δᵀ, ẑ(l−1))``, at no extra pass over ``.grad`` (and where
        ``.grad`` is that extra tensor itself, the GEMM accumulates into it in place). ``penalty``
        ``(kind, slots, gammas, w0)``: a weight penalty added inside the whole-step kernel
        (:meth:`~deepnets.train.costate_whole.WholeStep.run`), E + P returned; None, nothing
        written, where the step does not run as that one call."""
        was = torch.is_grad_enabled()
        torch._C._set_grad_enabled(False)
        try:
            return self._step(x, target, extra, penalty)
        finally:
            torch._C._set_grad_enabled(was)

    def _step(self, x: Tensor, target: Tensor, extra: list | None, penalty: tuple | None) -> Tensor | None:
        params, acts = self.params, self.acts
        L = len(acts)
        zbuf, lbuf, out, views = self._buffers(x)
        if views is not None:
            if self.fused.takes_target(target, out):
                return self.fused.step(x, target, extra, zbuf, lbuf, out, views, penalty)
        if penalty is not None:  # (only the whole-step kernel adds a penalty itself)
            return None
        if views is not None:
            zbuf, lbuf, out, views = self._buffers(x, torch_path=True)  # sample-major buffers of its own
        zs = [x]
        for l in range(L - 1):  # hidden layers: ŷ(l) = ẑ(l−1) W(l)ᵀ + b(l) into its buffer, g in place
            W, b = params[2 * l], params[2 * l + 1]
            y = torch.mm(zs[-1], W.t(), out=zbuf[l]) if b is None else torch.addmm(b, zs[-1], W.t(), out=zbuf[l])
            zs.append(inplace_forward(acts[l])(y))
        zs.append(acts[-1](torch.nn.functional.linear(zs[-1], params[2 * L - 2], params[2 * L - 1])))
        E, lam, delta = terminal_condition(self.loss, zs[-1], target, acts[-1], validate=self.validate)
        for l in range(L - 1, -1, -1):
            W, b = params[2 * l], params[2 * l + 1]
            if l < L - 1 or delta is None:
                delta = delta_inplace(acts[l], lam, zs[l + 1]) if l < L - 1 else acts[l].delta(lam, zs[l + 1])
            if W.requires_grad:
                weight_grad(W, delta.t(), zs[l], None if extra is None else extra[2 * l])
            if b is not None and b.requires_grad:  # (M(l),) = Σ_n δ
                bias_grad(b, delta, None if extra is None else extra[2 * l + 1])
            if l > 0:
                lam = torch.mm(delta, W, out=lbuf[l - 1])  # λ(l−1) = W(l)ᵀ δ(l), row-wise
        return E
