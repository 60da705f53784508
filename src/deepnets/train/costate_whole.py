"""The fused co-state step of an MLP as ONE compiled call: forward, terminal, recursion, penalty.

Where :mod:`deepnets.train.costate_fused` runs the step's GEMMs through torch (MKL) with a Numba
pass between them (about 15 torch ops and 5 kernel calls a step, each paying its dispatch), this
runs the whole step in one Numba call (:mod:`deepnets.train.costate_whole_kernels`): the GEMMs
are ``np.dot`` inside the kernel (SciPy's OpenBLAS), on the same feature-major buffers, writing
every ∂E/∂W(l) and ∂E/∂b(l) straight into the flat ``.grad`` views the fused step made. On the
MNIST-1D step's shapes those GEMMs alone take about 193 µs in OpenBLAS against 227 µs for
``torch.mm`` (1 thread, feature-major), and the Python between them goes.

:func:`whole_plan` decides once per net and batch size (never by timing):

- every weight trainable and contiguous, every ``.grad`` one of the flat views, every hidden
  unit one the kernel computes (ReLU, tanh, logistic, identity; any other: None), the terminal
  condition one of ``TERMINALS``;
- the widths: the larger the GEMMs, the less the saved dispatch weighs against MKL's faster
  large products: a net whose widest layer has more than :data:`MAX_WIDTH` units keeps the fused
  step with torch's GEMMs. Whole step / fused step, one thread, batch 200 (2-core AMD EPYC, load
  ~1): 64-100-10 0.78, 40-100-100-10 0.89, 64-256-10 0.88, 64-320-10 0.95, 64-384-10 0.95,
  40-384-384-10 0.95, 64-512-10 1.02, 64-700-10 1.05, 64-1000-10 1.01.

:meth:`WholeStep.run` returns None (the caller then runs the fused step) where the batch is not
contiguous or a ``.grad`` was replaced since. The kernel is deterministic: the same inputs give
the same bits, so a resumed run equals the uninterrupted one. SciPy's BLAS runs with
``torch.get_num_threads()`` threads during the call (its own count restored after).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from .._numba import blas_restore, blas_set
from ..activations import Identity
from ..errors import ConfigError
from ..losses.targets import _check_label_range
from .costate_grads import standard_unit

#: the widest layer the whole-step kernel takes; wider nets keep torch's (MKL's) GEMMs
MAX_WIDTH = 400

_CODES = {"relu": 0, "tanh": 1, "logistic": 2}


def _unit_code(act) -> int | None:
    """The kernels' code of a hidden unit (costate_whole_kernels: RELU, TANH, LOGISTIC, IDENTITY), or None."""
    if type(act) is Identity:
        return 3
    return _CODES.get(standard_unit(act))


def whole_plan(fused, zs: list, lams: list, out_t: Tensor) -> "WholeStep | None":
    """A :class:`WholeStep` for the fused step ``fused`` on one batch size's buffers (ẑ(l)ᵀ, λ(l)ᵀ
    (M(l), N) and ŷ(L)ᵀ (C, N)), or None where the kernel does not take this net (module docstring)."""
    params, acts = fused.params, fused.acts
    L = len(acts)
    codes = [_unit_code(a) for a in acts[:-1]]
    if fused.flat is None or None in codes:
        return None
    for l in range(L):
        W, b = params[2 * l], params[2 * l + 1]
        if not W.requires_grad or not W.is_contiguous() or W.grad is not fused.wgrad[l]:
            return None
        if max(W.shape) > MAX_WIDTH or (b is not None and not b.is_contiguous()):
            return None
        if b is not None and b.requires_grad and b.grad is not fused.bgrad[l]:
            return None
    return WholeStep(fused, codes, zs, lams, out_t)


class WholeStep:
    """The whole-step kernel bound to one net and one batch size's buffers; :meth:`run` takes a step."""

    def __init__(self, fused, codes: list, zs: list, lams: list, out_t: Tensor):
        from .costate_whole_kernels import WHOLE   # imports Numba: only where it is used
        self.fused, self.kernel, self.entries = fused, WHOLE[fused.kind], {}
        params, L = fused.params, len(fused.acts)
        dt = np.dtype(str(out_t.dtype).removeprefix("torch."))
        self.dtype, self.N = out_t.dtype, out_t.shape[1]
        none = np.empty(0, dtype=dt)
        self.grads = fused.flat[1]   # ((parameter, its .grad), ...): a step runs here while they hold
        self.Wg = tuple(params[2 * l].grad.numpy() for l in range(L))
        self.bg = tuple(none if params[2 * l + 1] is None or not params[2 * l + 1].requires_grad
                        else params[2 * l + 1].grad.numpy() for l in range(L))
        out = out_t.numpy()
        self.zs = tuple(z.numpy() for z in zs) + (out,)
        self.lams = tuple(t.numpy() for t in lams) + (out,)
        self.acts = np.array(codes, dtype=np.int64)
        self.consts = (float(np.finfo(dt).tiny), dt.type(1), dt.type(self.N))
        self.none = none
        self.penalty = (0, np.empty(0, dtype=np.int64), np.empty(0), 1.0)   # (kind, slots, gammas, w0)
        self.ptrs, self.pviews = None, None
        self.P = 0.0   # the penalty of the last step
        self.fmax = float(np.finfo(dt).max)

    def param_views(self) -> tuple:
        """(Ws, bs): NumPy views of W(l) and b(l) (an empty array where absent), made again only
        where a parameter's storage changed (``p.data = ...``)."""
        params = self.fused.params
        ptrs = [0 if p is None else p.data_ptr() for p in params]
        if ptrs != self.ptrs:
            L = len(self.fused.acts)
            Ws = tuple(params[2 * l].detach().numpy() for l in range(L))
            bs = tuple(self.none if params[2 * l + 1] is None else params[2 * l + 1].detach().numpy()
                       for l in range(L))
            self.ptrs, self.pviews = ptrs, (Ws, bs)
        return self.pviews

    def run(self, x: Tensor, target: Tensor, penalty: tuple | None = None) -> tuple | None:
        """(E·N, P) of the step on ``x`` with every gradient written (and the penalty's added: P,
        else 0), or None where this batch or the ``.grad`` tensors are not the kernel's (the
        caller runs the fused step). ``penalty``: ``(kind, slots, gammas, w0)``, kind 1 weight
        decay, 2 weight elimination, on the tensors ``slots`` (int64, W(l) = 2l, b(l) = 2l + 1)
        with gamma_t ``gammas[t]`` (float64). A class label out of range raises the loss's
        error, no ``.grad`` written."""
        if not x.is_contiguous() or not target.is_contiguous() or x.requires_grad:
            return None
        for p, g in self.grads:
            if p.grad is not g:
                return None
        Ws, bs = self.param_views()
        args = (x.numpy(), target.numpy(), Ws, bs, self.Wg, self.bg, self.zs, self.lams, self.acts,
                *self.consts, *(self.penalty if penalty is None else penalty))
        entry = self.entries.get(target.dtype)
        if entry is None:
            from ..penalty_kernels import fastest_entry
            entry = self.entries[target.dtype] = fastest_entry(self.kernel, *args)
        changed = blas_set(torch.get_num_threads())
        try:
            total, P, bad = entry(*args)
        finally:
            if changed:
                blas_restore(changed)
        if bad >= 0:
            C = self.zs[-1].shape[0]
            _check_label_range(target, C)  # raises the loss's label-range error
            raise ConfigError(f"class label {int(target[bad])} out of range")  # pragma: no cover
        return total, P

    def step(self, x: Tensor, target: Tensor, penalty: tuple | None = None) -> Tensor | None:
        """E (+ P where ``penalty``; 0-dim, the parameters' dtype), or None (see :meth:`run`)."""
        r = self.run(x, target, penalty)
        if r is None:
            return None
        self.P = r[1]   # (P alone, for a penalty that keeps its values: AdaptiveLambda's)
        E = r[0] / self.N + r[1]
        if abs(E) > self.fmax:  # a float64 sum beyond the dtype's range: ±inf, as a sum in the dtype gives
            E = math.copysign(math.inf, E)
        return torch.scalar_tensor(E, dtype=self.dtype)
