"""The co-state step on the CPU with its small ops fused: one Numba pass where torch runs several.

The step of :mod:`deepnets.train.costate_buffers` with the same matrix products (torch's GEMMs)
and, between them, one pass over each (N, M) array instead of a handful of torch kernels
(:mod:`deepnets.train.costate_kernels`):

- the terminal condition: E, δ(L) and ∂E/∂b(L) = Σ_n δ(L) in one pass for softmax +
  cross-entropy on class labels (after torch's softmax over the long axis), logistic +
  cross-entropy on 0/1 targets and identity + LMS, the class-label range checked in that pass;
- each hidden layer's δ(l) = λ(l) ∘ g'(ŷ(l)) from its stored ẑ(l), over λ(l), with
  ∂E/∂b(l) = Σ_n δ(l) in the same pass (ReLU, tanh, logistic; other units take torch's ops).

Used only where :func:`deepnets._numba.available` and the batch is on the CPU in float32 or
float64 (:func:`fused_plan` decides once per net, :meth:`FusedCostate.takes` per batch size);
everything else, and ``DEEPNETS_NO_NUMBA=1``, takes the torch path. δ(L) and every hidden δ
are the torch path's bit for bit (same float operations); E and the bias gradients are sums
taken in another order (float64, sample order), so the weights after a step differ from the torch
path's by round-off: tested at 1e-12 in float64, and against autograd.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..activations import Identity, Logistic, ReLU, Tanh
from ..backprop import Softmax
from ..errors import ConfigError
from ..losses import LMS, CrossEntropy
from ..losses.targets import _check_label_range
from . import costate_kernels as K

_LABEL_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def _terminal_kind(loss, out, n_out: int) -> str | None:
    """Which fused terminal condition matches this cost and output unit, or None."""
    if type(loss) is CrossEntropy and loss._on_probabilities:
        if type(out) is Softmax and n_out > 1:
            return "softmax_ce"
        if type(out) is Logistic and out.alpha == 1.0 and n_out == 1:
            return "logistic_ce"
    if type(loss) is LMS and type(out) is Identity:
        return "identity_lms"
    return None


def _delta_kernel(act):
    """The fused δ kernel of a hidden unit (with whether it takes a 1 of the dtype), or None."""
    kind = type(act)
    if kind is ReLU:
        return K.relu_delta, False
    if kind is Tanh and act.alpha == 1.0 and act.scale == 1.0:
        return K.tanh_delta, True
    if kind is Logistic and act.alpha == 1.0:
        return K.logistic_delta, True
    return None, False


def _forward_inplace(act):
    """g applied in place to ŷ(l) (returning it) where torch has a kernel computing the same
    numbers as ``act(y)``; else ``act`` itself (a new tensor)."""
    kind = type(act)
    if kind is ReLU:
        return Tensor.relu_
    if kind is Tanh and act.alpha == 1.0 and act.scale == 1.0:
        return Tensor.tanh_
    if kind is Logistic and act.alpha == 1.0:
        return Tensor.sigmoid_
    return act


def fused_plan(params, acts, loss) -> "FusedCostate | None":
    """A :class:`FusedCostate` for this net and cost where its terminal condition has a fused
    kernel, else None (the torch path)."""
    kind = _terminal_kind(loss, acts[-1], params[-2].shape[0])
    return None if kind is None else FusedCostate(params, acts, kind)


class FusedCostate:
    """The fused step of one net: its kernels, and per (batch size, dtype) the NumPy views of the
    buffers that :class:`~deepnets.train.costate_buffers.CostateBuffers` allocated."""

    def __init__(self, params, acts, kind: str):
        self.params, self.acts, self.kind = params, acts, kind
        self.deltas = [_delta_kernel(a) for a in acts[:-1]]
        self.forward = [_forward_inplace(a) for a in acts[:-1]]
        self.weight_grads = [None] * len(acts)  # W(l)'s .grad where it is a view of the flat tensor
        self.grad_views: dict = {}  # bias index -> (its .grad, that tensor's NumPy view)
        self.none = {}               # dtype -> an empty array: "no bias gradient"
        self.flat = None             # (one array holding every .grad, ((parameter, its .grad), ...))

    def flat_grads(self) -> None:
        """Where no trainable parameter has a ``.grad`` yet, give them all views of one flat
        tensor as ``.grad`` (the step writes into them in place): the non-finite guard then
        checks every gradient in one pass (:meth:`gradients_finite`)."""
        train = [p for p in self.params if p is not None and p.requires_grad]
        if not train or any(p.grad is not None for p in train):
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
        pairs = []
        for p, at in zip(train, starts):
            p.grad = flat[at:at + p.numel()].view_as(p)
            pairs.append((p, p.grad))
        self.flat = (flat.numpy(), tuple(pairs))
        self.weight_grads = [self.params[2 * l].grad for l in range(len(self.acts))]

    def gradients_finite(self, params) -> bool | None:
        """True when no ``.grad`` of ``params`` holds an inf or NaN, in one pass, where they are
        exactly the views :meth:`flat_grads` made; None otherwise (then the caller checks)."""
        flat = self.flat
        if flat is None or len(params) != len(flat[1]):
            return None
        for p, (q, g) in zip(params, flat[1]):
            if p is not q or p.grad is not g:
                return None
        return bool(K.all_finite(flat[0]))

    def takes(self, x: Tensor) -> bool:
        """True for inputs on the CPU in float32 or float64, the parameters' dtype (checked once
        per batch size: the buffers are made then)."""
        return (x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
                and all(p is None or (p.dtype == x.dtype and p.device.type == "cpu") for p in self.params))

    def takes_target(self, target: Tensor, out: Tensor) -> bool:
        """True for targets the fused terminal condition takes: class labels (N,) for softmax +
        cross-entropy, else a tensor of the outputs' shape and dtype; on the CPU, outside a graph."""
        if target.device.type != "cpu" or target.requires_grad:
            return False
        if self.kind == "softmax_ce":
            return target.dtype in _LABEL_DTYPES and target.shape == out.shape[:1]
        return target.dtype == out.dtype and target.shape == out.shape

    def views(self, zs: list, lams: list, out: Tensor):
        """The NumPy views of a batch size's buffers, and the transposes the GEMMs take."""
        dt = out.dtype
        return ([z.numpy() for z in zs], [t.numpy() for t in lams], [t.t() for t in lams],
                out.numpy(), out.t(), np.float64(torch.finfo(dt).tiny), np.dtype(str(dt)[6:]).type(1))

    def bias_view(self, l: int, dtype) -> np.ndarray:
        """The NumPy view of b(l)'s ``.grad`` (created where missing), or an empty array when
        b(l) is absent or frozen; the view is made again only when ``.grad`` is another tensor."""
        b = self.params[2 * l + 1]
        if b is None or not b.requires_grad:
            e = self.none.get(dtype)
            if e is None:
                e = self.none[dtype] = np.empty(0, dtype=np.dtype(str(dtype)[6:]))
            return e
        g = b.grad
        held = self.grad_views.get(l)
        if held is not None and held[0] is g:
            return held[1]
        if g is None or g.shape != b.shape or g.dtype != b.dtype or g.requires_grad:
            g = b.grad = torch.empty_like(b, memory_format=torch.contiguous_format)
        view = g.numpy()
        self.grad_views[l] = (g, view)
        return view

    def terminal(self, a: Tensor, views, target: Tensor, N: int) -> Tensor:
        """E, with δ(L) written over the output layer's ŷ(L) buffer ``a`` and ∂E/∂b(L) into its
        ``.grad``; a class label out of range raises the loss's label-range error."""
        zv, lv, lt, av, at, tiny, one = views
        gb = self.bias_view(len(self.acts) - 1, a.dtype)
        if self.kind == "softmax_ce":
            pT = torch._softmax(at, 0, False)  # (C, N): softmax along the long axis, as the torch path
            total, bad = K.softmax_ce_labels(pT.numpy(), target.numpy(), av, gb, tiny, one, one * N)
            if bad >= 0:  # (nothing written yet)
                _check_label_range(target, a.shape[1])  # raises the loss's label-range error
                raise ConfigError(f"class label {int(target[bad])} out of range")  # pragma: no cover
        elif self.kind == "logistic_ce":
            a.sigmoid_()  # ẑ = σ(ŷ), torch's, in place: the kernel reads ẑ
            total, _ = K.logistic_ce(av, target.numpy(), av, gb, tiny, one * N)
        else:
            total, _ = K.identity_lms(av, target.numpy(), av, gb, one * N)
        return torch.scalar_tensor(total / N, dtype=a.dtype)

    def delta(self, l: int, lam: Tensor, lam_np, z_np, one) -> bool:
        """δ(l) over λ(l) with ∂E/∂b(l) into its ``.grad`` (True), or False where layer l has no kernel."""
        fn, takes_one = self.deltas[l]
        if fn is None:
            return False
        gb = self.bias_view(l, lam.dtype)
        if takes_one:
            fn(lam_np, z_np, gb, one)
        else:
            fn(lam_np, z_np, gb)
        return True
