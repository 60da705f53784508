"""The co-state step on the CPU with its small ops fused: one Numba pass where torch runs several.

The step of :mod:`deepnets.train.costate_buffers` with the same matrix products (torch's GEMMs)
and, between them, one pass over each (N, M) array instead of a handful of torch kernels
(:mod:`deepnets.train.costate_kernels`):

- the terminal condition: E, δ(L) and ∂E/∂b(L) = Σ_n δ(L) in one pass for softmax +
  cross-entropy on class labels (after torch's softmax over the long axis), logistic +
  cross-entropy on 0/1 targets and identity + LMS, the class-label range checked in that pass;
- each hidden layer's δ(l) = λ(l) ∘ g'(ŷ(l)) from its stored ẑ(l), over λ(l), with
  ∂E/∂b(l) = Σ_n δ(l) in the same pass (ReLU, tanh, logistic; other units take torch's ops);
- every ``.grad`` a view of one flat tensor, so the non-finite guard checks them in one pass
  (:meth:`FusedCostate.gradients_finite`).

The views a step needs are made once, not per step: those of the buffers per batch size, those
of the parameters (b(l) as a column, W(l)ᵀ) again only where a parameter's storage changed.

Where :mod:`deepnets.train.costate_whole` takes the net (its units, trainable weights, widths up
to ``MAX_WIDTH``), :meth:`FusedCostate.step` is one call of that module's kernel instead: the
GEMMs too inside Numba (SciPy's OpenBLAS), on the same buffers and ``.grad`` views; this module's
step remains for the rest (wider nets, a frozen weight, a replaced ``.grad``, a strided batch).

Used only where :func:`deepnets._numba.available` and the batch is on the CPU in float32 or
float64 (:func:`fused_plan` decides once per net, :meth:`FusedCostate.takes` per batch size,
:meth:`FusedCostate.takes_target` per batch); everything else, and ``DEEPNETS_NO_NUMBA=1``, takes
the torch path. The layers are kept feature-major, ŷ(l)ᵀ = W(l) ẑ(l−1)ᵀ + b(l) (M(l), N):
MKL computes these products faster in that form, the output layer's (few columns) about twice as
fast. The elementwise arithmetic is the torch path's (δ(L) from torch's softmax, the hidden δ:
tested bit for bit on the same inputs), but the GEMMs sum in another order and E and the bias
gradients are float64 sums, so a step's results differ from the torch path's by round-off: tested
at 1e-12 in float64, and against autograd.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..activations import Identity, Logistic
from ..backprop import Softmax
from ..errors import ConfigError
from ..losses import LMS, CrossEntropy
from ..losses.targets import _check_label_range
from . import costate_kernels as K
from .costate_grads import bias_grad, delta_inplace, inplace_forward, standard_unit, weight_grad
from .costate_whole import whole_plan

_LABEL_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def _softmax(out_t: Tensor, a: np.ndarray) -> np.ndarray:
    """ẑ = softmax(ŷ) over each sample's C scores, torch's, as a (C, N) array."""
    return torch._softmax(out_t, 0, False).numpy()


def _logistic(out_t: Tensor, a: np.ndarray) -> np.ndarray:
    """ẑ = σ(ŷ), torch's, in place over the (1, N) buffer; its (N, 1) view ``a``."""
    out_t.sigmoid_()
    return a


def _identity(out_t: Tensor, a: np.ndarray) -> np.ndarray:
    """ẑ = ŷ: the (N, C) view ``a`` of the buffer."""
    return a


#: terminal condition -> (the output unit applied to ŷ(L)ᵀ, its kernel
#: ``(ẑ, target, δ, ∂E/∂b, tiny, 1, N) -> (E·N, first bad label or −1)``)
TERMINALS = {"softmax_ce": (_softmax, K.softmax_ce_labels), "logistic_ce": (_logistic, K.logistic_ce),
             "identity_lms": (_identity, K.identity_lms)}


def _terminal_kind(loss, out, n_out: int) -> str | None:
    """Which fused terminal condition in :data:`TERMINALS` matches this cost and output unit, or None."""
    if type(loss) is CrossEntropy and loss._on_probabilities:
        if type(out) is Softmax and n_out > 1:
            return "softmax_ce"
        if type(out) is Logistic and out.alpha == 1.0 and n_out == 1:
            return "logistic_ce"
    if type(loss) is LMS and type(out) is Identity:
        return "identity_lms"
    return None


def _delta_kernel(act):
    """The fused δ kernel ``(λ, ẑ, ∂E/∂b, 1)`` of a hidden unit, or None (torch's ops)."""
    return {"relu": K.relu_delta, "tanh": K.tanh_delta, "logistic": K.logistic_delta}.get(standard_unit(act))


def fused_plan(params, acts, loss) -> "FusedCostate | None":
    """A :class:`FusedCostate` for this net and cost where its terminal condition has a fused
    kernel, else None (the torch path)."""
    kind = _terminal_kind(loss, acts[-1], params[-2].shape[0])
    return None if kind is None else FusedCostate(params, acts, kind)


class FusedCostate:
    """The fused step of one net: its kernels, the flat ``.grad`` views, and per batch size the
    NumPy views of the buffers :class:`~deepnets.train.costate_buffers.CostateBuffers` made."""

    def __init__(self, params, acts, kind: str):
        self.params, self.acts, self.kind = params, acts, kind
        self.labels = kind == "softmax_ce"
        self.output = TERMINALS[kind][0]
        self.kernels = None   # the compiled dispatchers, on first use: (terminal, [δ(l) or None])
        self.forward = [inplace_forward(a) for a in acts[:-1]]
        L = len(acts)
        self.wgrad = [None] * L    # W(l)'s .grad where it is a flat view (written with no checks)
        self.bgrad = [None] * L    # b(l)'s .grad where it is a flat view, and its NumPy view:
        self.bview = [None] * L
        self.flat = None           # (one array holding every .grad, ((parameter, its .grad), ...))
        self.pviews = (None, None)  # (the parameters' data pointers, their views b(l) (M(l), 1) and W(l)ᵀ)

    def takes(self, x: Tensor) -> bool:
        """True for inputs on the CPU in float32 or float64, the parameters' dtype (checked once
        per batch size: the buffers are made then)."""
        return (x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
                and all(p is None or (p.dtype == x.dtype and p.device.type == "cpu") for p in self.params))

    def takes_target(self, target: Tensor, out_t: Tensor) -> bool:
        """True for targets the fused terminal condition takes: class labels (N,) for softmax +
        cross-entropy, else a tensor of the outputs' shape (N, C) and dtype; on the CPU, outside a
        graph (``out_t`` is the (C, N) output buffer)."""
        if target.device.type != "cpu" or target.requires_grad:
            return False
        if self.labels:
            return target.dtype in _LABEL_DTYPES and target.shape == out_t.shape[1:]
        return target.dtype == out_t.dtype and target.shape == out_t.shape[::-1]

    def views(self, zs: list, lams: list, out_t: Tensor) -> tuple:
        """For a batch size: NumPy views of ẑ(l)ᵀ and λ(l)ᵀ (M(l), N), the (N, M(l)) torch views
        ẑ(l) of the ẑ(l)ᵀ buffers, the NumPy view of ŷ(L) (N, C) over the (C, N) buffer ``out_t``,
        tiny, 1 and N in the dtype, an empty array ("no bias gradient"), and the
        :class:`~deepnets.train.costate_whole.WholeStep` of this batch size or None."""
        if self.kernels is None:
            self.kernels = (TERMINALS[self.kind][1].dispatcher(),
                            [None if k is None else k.dispatcher() for k in map(_delta_kernel, self.acts[:-1])],
                            K.all_finite.dispatcher())
        dt = np.dtype(str(out_t.dtype).removeprefix("torch."))
        one = dt.type(1)
        self.flat_grads()
        whole = whole_plan(self, zs, lams, out_t)  # the step as one kernel call, where it takes this net
        return ([z.numpy() for z in zs], [t.numpy() for t in lams], [z.t() for z in zs], out_t.numpy().T,
                float(np.finfo(dt).tiny), one, one * out_t.shape[1], np.empty(0, dtype=dt), whole)

    def flat_grads(self) -> None:
        """Give every trainable parameter a view of one flat tensor as ``.grad`` (the step writes
        into them in place): the non-finite guard then checks every gradient in one pass
        (:meth:`gradients_finite`), and the one-call step writes them all. A ``.grad`` already
        there (a net trained before: another ``fit``, or a user's own loop) is moved into its view,
        its values kept, as torch's ``zero_grad`` replaces ``.grad`` tensors too; one of another
        shape or dtype, or in a graph, is left alone (no flat views then)."""
        train = [p for p in self.params if p is not None and p.requires_grad]
        if self.flat is not None or not train:
            return
        for p in train:
            g = p.grad
            if g is not None and (g.shape != p.shape or g.dtype != p.dtype or g.device != p.device
                                  or g.requires_grad):
                return
        # each view starts on a 64-byte boundary, as a tensor of its own would: MKL's GEMM picks
        # its code path by alignment, and the same path gives the same rounding (bit for bit);
        # the padding is zeros, which the finite check passes over
        align = 64 // train[0].element_size()
        starts, at = [], 0
        for p in train:
            starts.append(at)
            at += -(-p.numel() // align) * align
        flat = torch.zeros(at, dtype=train[0].dtype)
        for p, at in zip(train, starts):
            view = flat[at:at + p.numel()].view_as(p)
            if p.grad is not None:
                view.copy_(p.grad)
            p.grad = view
        self.flat = (flat.numpy(), tuple((p, p.grad) for p in train))
        for l in range(len(self.acts)):
            W, b = self.params[2 * l], self.params[2 * l + 1]
            self.wgrad[l] = W.grad
            if b is not None and b.grad is not None:
                self.bgrad[l], self.bview[l] = b.grad, b.grad.numpy()

    def gradients_finite(self, params) -> bool | None:
        """True when no ``.grad`` of ``params`` holds an inf or NaN, in one pass, where they are
        exactly the views :meth:`flat_grads` made; None otherwise (then the caller checks)."""
        flat = self.flat
        if flat is None or len(params) != len(flat[1]):
            return None
        for p, (q, g) in zip(params, flat[1]):
            if p is not q or p.grad is not g:
                return None
        return bool(self.kernels[2](flat[0]))

    def bias_view(self, l: int, none: np.ndarray) -> np.ndarray:
        """The NumPy view of b(l)'s ``.grad`` for a kernel to write ∂E/∂b(l) into (``none``, an
        empty array, where b(l) is absent or frozen); a fresh ``.grad`` where it cannot be written."""
        b = self.params[2 * l + 1]
        if b is None or not b.requires_grad:
            return none
        g = b.grad
        if g is not None and g is self.bgrad[l]:
            return self.bview[l]
        if g is None or g.shape != b.shape or g.dtype != b.dtype or g.requires_grad:
            g = b.grad = torch.empty_like(b, memory_format=torch.contiguous_format)
        self.bgrad[l], self.bview[l] = g, g.numpy()
        return self.bview[l]

    def terminal(self, out_t: Tensor, views: tuple, target: Tensor) -> Tensor:
        """E, with δ(L)ᵀ written over the output layer's ŷ(L)ᵀ buffer ``out_t`` (C, N) and
        ∂E/∂b(L) into its ``.grad``; a class label out of range raises the loss's label-range
        error, nothing written."""
        _, _, _, av, tiny, one, n, none = views[:8]
        gb = self.bias_view(len(self.acts) - 1, none)
        total, bad = self.kernels[0](self.output(out_t, av), target.numpy(), av, gb, tiny, one, n)  # δ(L) over ŷ(L)
        if bad >= 0:
            _check_label_range(target, out_t.shape[0])  # raises the loss's label-range error
            raise ConfigError(f"class label {int(target[bad])} out of range")  # pragma: no cover
        return torch.scalar_tensor(total / out_t.shape[1], dtype=out_t.dtype)

    def param_views(self) -> list:
        """``[(b(l) as a column (M(l), 1) or None, W(l)ᵀ), ...]``, views made once and made again
        only where a parameter's storage changed (its data pointer: ``p.data = ...``)."""
        params = self.params
        ptrs = [0 if p is None else p.data_ptr() for p in params]
        held, views = self.pviews
        if ptrs != held:
            views = [(None if params[2 * l + 1] is None else params[2 * l + 1].detach().unsqueeze(1),
                      params[2 * l].detach().t()) for l in range(len(self.acts))]
            self.pviews = (ptrs, views)
        return views

    def step(self, x: Tensor, target: Tensor, extra, zbuf: list, lbuf: list, out_t: Tensor, views: tuple,
             penalty: tuple | None = None) -> Tensor | None:
        """E for the batch and every gradient written, as the torch path's step (same arguments),
        on the buffers of the batch size, feature-major: ẑ(l)ᵀ and λ(l)ᵀ (M(l), N) in ``zbuf``
        and ``lbuf``, ŷ(L)ᵀ (C, N) in ``out_t`` (MKL's faster forms for these shapes), and their ``views``.
        Where the whole-step kernel takes the batch (:mod:`deepnets.train.costate_whole`) the step is
        that one call, with ``penalty`` added in it; else None where a ``penalty`` is given."""
        if extra is None and views[8] is not None:  # the whole step in one kernel call
            E = views[8].step(x, target, penalty)
            if E is not None or penalty is not None:
                return E
        if penalty is not None:
            return None
        params, L = self.params, len(self.acts)
        zv, lv, zrows, _, _, one, _, none = views[:8]
        deltas, pv = self.kernels[1], self.param_views()
        zs = [x.t()]  # ẑ(0)ᵀ (M(0), N)
        for l in range(L):  # ŷ(l)ᵀ = W(l) ẑ(l−1)ᵀ + b(l): (M(l), N); hidden g in place
            W, b = params[2 * l], pv[l][0]
            y = zbuf[l] if l < L - 1 else out_t
            y = torch.mm(W, zs[-1], out=y) if b is None else torch.addmm(b, W, zs[-1], out=y)
            if l < L - 1:
                zs.append(self.forward[l](y))
        E = self.terminal(out_t, views, target)
        delta = out_t  # δ(L)ᵀ (C, N)
        for l in range(L - 1, -1, -1):
            W, b = params[2 * l], params[2 * l + 1]
            if l < L - 1:
                delta = lbuf[l]  # λ(l)ᵀ, then δ(l)ᵀ over it (M(l), N)
                if deltas[l] is not None:  # with ∂E/∂b(l) in the same pass
                    deltas[l](lv[l], zv[l], self.bias_view(l, none), one)
                else:
                    delta = delta_inplace(self.acts[l], delta, zs[l + 1])
                    if b is not None and b.requires_grad:
                        bias_grad(b, delta.t(), None)
            # ẑ(l−1) (N, M(l−1)) = (ẑ(l−1)ᵀ)ᵀ: the input, or the buffer's view (g in place), or a new one
            zl = x if l == 0 else zrows[l - 1] if zs[l] is zbuf[l - 1] else zs[l].t()
            g = W.grad
            if extra is None and g is not None and g is self.wgrad[l]:  # (M(l), M(l−1)) = δᵀ ẑ(l−1)
                torch.mm(delta, zl, out=g)
            elif W.requires_grad:
                weight_grad(W, delta, zl, None if extra is None else extra[2 * l])
            if extra is not None and b is not None and b.requires_grad and extra[2 * l + 1] is not None:
                b.grad.add_(extra[2 * l + 1])
            if l > 0:
                torch.mm(pv[l][1], delta, out=lbuf[l - 1])  # λ(l−1)ᵀ = W(l)ᵀ δ(l)ᵀ: (M(l−1), N)
        return E
