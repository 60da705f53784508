"""The co-state step of an MLP as one Numba call: every GEMM and every pass between them.

One kernel per terminal condition (:data:`WHOLE`), each running, on feature-major buffers
(a unit a row, a sample a column, as :mod:`deepnets.train.costate_fused` keeps them):

1. the forward pass ŷ(l)ᵀ = W(l) ẑ(l−1)ᵀ (``np.dot`` with ``out``: Numba hands it to SciPy's
   BLAS, no Python in between), then + b(l) and ẑ(l) = g(ŷ(l)) in one pass over the row
   (ReLU, tanh, logistic, identity);
2. the terminal condition, E and δ(L) written over ŷ(L)ᵀ (Bishop 1995, §6.9: δ(L) = (ẑ − z)/N for
   the matched pairs): softmax + cross-entropy on class labels (E = −(1/N) Σ_n ln max(ẑ_{y_n},
   tiny), ln ẑ_y taken as (ŷ_y − max) − ln Σ exp, no underflow), logistic + cross-entropy,
   identity + LMS (E = (1/N) Σ_n ½ Σ_i (ẑ − z)²);
3. the co-state recursion of Rumelhart, Hinton & Williams (1986) from the output layer down:
   δ(l) = λ(l) ∘ g'(ŷ(l)) from the stored ẑ(l) over λ(l), ∂E/∂b(l) = Σ_n δ(l),
   ∂E/∂W(l) = δ(l)ᵀ ẑ(l−1) straight into W(l)'s ``.grad``, λ(l−1) = W(l)ᵀ δ(l);
4. optionally a weight penalty's closed-form gradient added to the gradients it names and its
   P returned beside E (weight decay ½ Σ w², weight elimination Σ (w/w0)² / (1 + (w/w0)²) of
   Weigend, Rumelhart & Huberman 1991; the loops of :mod:`deepnets.penalty_kernels`).

The class labels are checked before anything is written: a label out of range returns its
sample's index, every ``.grad`` untouched. E, P and the bias gradients are float64 sums. The
exponentials are the vectorising ones of :mod:`deepnets.nn.recurrent.lstm_fused` (float64 within
2e-16 relative, float32 within 1.2e-7), so the numbers differ from torch's by round-off (tested
against autograd). This module imports Numba: imported only where :func:`deepnets._numba.available`.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.core import types
from numba.extending import overload

from .._numba import kernel
from ..nn.recurrent.lstm_fused import _exp32, _exp64, sigmoid_den, tanh_parts

_JIT = dict(error_model="numpy", fastmath={"contract"})
_SUMS = dict(error_model="numpy", fastmath={"contract", "reassoc"})   # row sums may be reassociated

#: hidden unit codes of the kernels' ``acts``
RELU, TANH, LOGISTIC, IDENTITY = 0, 1, 2, 3


@numba.njit(**_JIT)
def _bias_act(y, b, act):
    """ẑ = g(ŷ + b) over y (M, N), b of length M or 0 (no bias), for hidden unit code ``act``
    (−1: none, the output layer's ŷ(L) + b); one pass over each row."""
    M, N = y.shape
    for j in range(M):
        row = y[j]
        zero = row.dtype.type(0)
        bj = b[j] if b.shape[0] > 0 else zero
        if act == RELU:
            for n in range(N):
                v = row[n] + bj
                row[n] = zero if v < zero else v   # NaN stays NaN (the non-finite guard sees it)
        elif act == TANH:
            for n in range(N):
                num, den = tanh_parts(row[n] + bj)
                row[n] = num / den
        elif act == LOGISTIC:
            for n in range(N):
                row[n] = 1 / sigmoid_den(row[n] + bj)
        elif b.shape[0] > 0:
            for n in range(N):
                row[n] = row[n] + bj


@numba.njit(**_SUMS)
def _delta(lam, z, gb, act, one):
    """δ = λ ∘ g'(ŷ) from ẑ over λ (M, N), Σ_n δ (float64) into gb (length 0: none), one pass a row."""
    M, N = lam.shape
    for j in range(M):
        row, zr = lam[j], z[j]
        s = 0.0
        if act == RELU:
            for n in range(N):
                d = row[n] if zr[n] > 0 else row.dtype.type(0)
                row[n] = d
                s += d
        elif act == TANH:
            for n in range(N):
                d = row[n] * (one - zr[n] * zr[n])
                row[n] = d
                s += d
        elif act == LOGISTIC:
            for n in range(N):
                d = row[n] * (zr[n] * (one - zr[n]))
                row[n] = d
                s += d
        else:
            for n in range(N):
                s += row[n]
        if j < gb.shape[0]:
            gb[j] = s


@numba.njit(**_SUMS)
def _row_sums(d, gb):
    """Σ_n d[j, n] into gb[j] (length 0: none), float64 sums."""
    for j in range(gb.shape[0]):
        s = 0.0
        row = d[j]
        for n in range(row.shape[0]):
            s += row[n]
        gb[j] = s


def fexp(x):
    """exp(x) in x's own float type (typed below: the vectorising exponentials of lstm_fused)."""
    return math.exp(x)


@overload(fexp, jit_options=_JIT)
def _fexp_typed(x):
    if x == types.float32:
        return lambda x: _exp32(x)
    return lambda x: _exp64(x)


def _forward(x, Ws, bs, zs, acts):
    """ẑ(l)ᵀ = g(W(l) ẑ(l−1)ᵀ + b(l)) into zs[l] (M(l), N), ẑ(0)ᵀ = xᵀ; ŷ(L)ᵀ (no unit) into zs[L−1]."""
    L = len(Ws)
    np.dot(Ws[0], x.T, zs[0])
    _bias_act(zs[0], bs[0], acts[0] if L > 1 else -1)
    for l in range(1, L):
        np.dot(Ws[l], zs[l - 1], zs[l])
        _bias_act(zs[l], bs[l], acts[l] if l < L - 1 else -1)


def _backward(x, Ws, Wg, bg, zs, lams, acts, one):
    """From δ(L)ᵀ in lams[L−1] (its bias gradient written): every gradient, λ(l) over lams."""
    L = len(Ws)
    for l in range(L - 1, -1, -1):
        d = lams[l]
        if l < L - 1:
            _delta(d, zs[l], bg[l], acts[l], one)
        if l > 0:
            np.dot(d, zs[l - 1].T, Wg[l])
            np.dot(Ws[l].T, d, lams[l - 1])
        else:
            np.dot(d, x, Wg[0])


def _penalty(Ws, bs, Wg, bg, kind, slots, gam, w0):
    """A weight penalty's gradient gam[t] ∂E/∂w added to the gradient of tensor k = slots[t]
    (W(l) for k = 2l, b(l) for k = 2l + 1); kind 1: weight decay, 2: weight elimination. Returns P."""
    P = 0.0
    w02 = w0 * w0
    for t in range(slots.shape[0]):
        k, gl = slots[t], gam[t]
        l = k // 2
        if k % 2 == 0:
            w, g = Ws[l].reshape(Ws[l].size), Wg[l].reshape(Wg[l].size)
        else:
            w, g = bs[l], bg[l]
        P += gl * _penalty_pass(w, g, kind, gl, w02, g.shape[0] == w.shape[0])   # (a frozen bias: P only)
    return P


@numba.njit(**_SUMS)
def _penalty_pass(w, g, kind, gl, w02, write):
    """g += gl ∂E/∂w over one 1-D tensor (where ``write``); returns E (weight decay: ½ Σ w²;
    elimination: Σ w²/(w0² + w²), with r = 1/(w0² + w²), q = w r: ∂E/∂w = 2 w0² q r)."""
    s = 0.0
    if kind == 1:
        for j in range(w.shape[0]):
            v = float(w[j])
            if write:
                g[j] = g[j] + gl * v
            s += v * v
        return 0.5 * s
    c = 2.0 * gl * w02
    for j in range(w.shape[0]):
        v = float(w[j])
        r = 1.0 / (w02 + v * v)
        q = v * r
        if write:
            g[j] = g[j] + c * q * r
        s += v * q
    return s


_forward_j = numba.njit(**_JIT)(_forward)
_backward_j = numba.njit(**_JIT)(_backward)
_penalty_j = numba.njit(**_JIT)(_penalty)


def _whole_softmax_ce(x, labels, Ws, bs, Wg, bg, zs, lams, acts, tiny, one, n, kind, slots, gam, w0):
    """Softmax + cross-entropy on class labels (N,): returns (E·N, P, −1), or (0, 0, i) for the
    first sample i whose label is out of range (nothing written)."""
    out = lams[len(lams) - 1]
    C, N = out.shape
    for i in range(N):
        if labels[i] < 0 or labels[i] >= C:
            return 0.0, 0.0, i
    _forward_j(x, Ws, bs, zs, acts)
    m = out[0].copy()
    for c in range(1, C):
        row = out[c]
        for i in range(N):
            m[i] = max(m[i], row[i])
    ly = np.empty(N)
    for i in range(N):
        ly[i] = out[labels[i], i] - m[i]
    s = np.zeros(N)
    for c in range(C):
        row = out[c]
        for i in range(N):
            e = fexp(row[i] - m[i])
            row[i] = e
            s[i] += e
    total, low = 0.0, math.log(tiny)
    for i in range(N):   # E_n = −max(ln ẑ_y, ln tiny), ln ẑ_y = (ŷ_y − max) − ln Σ exp(ŷ − max)
        total -= max(ly[i] - math.log(s[i]), low)
        s[i] = 1.0 / s[i]
    for c in range(C):
        row = out[c]
        for i in range(N):
            row[i] = row[i] * s[i]
    for i in range(N):
        out[labels[i], i] = out[labels[i], i] - one
    for c in range(C):
        row = out[c]
        for i in range(N):
            row[i] = row[i] / n
    return _finish(x, Ws, bs, Wg, bg, zs, lams, acts, one, kind, slots, gam, w0, total)


def _whole_logistic_ce(x, t, Ws, bs, Wg, bg, zs, lams, acts, tiny, one, n, kind, slots, gam, w0):
    """One logistic output on targets t (N, 1): E·N = −Σ_n [z ln max(ẑ, tiny) + (1 − z) ln max(1 − ẑ, tiny)]."""
    out = lams[len(lams) - 1]
    _forward_j(x, Ws, bs, zs, acts)
    row = out[0]
    for i in range(row.shape[0]):
        row[i] = 1 / sigmoid_den(row[i])
    total = 0.0
    for i in range(row.shape[0]):
        q, z = row[i], t[i, 0]
        if z != 0.0:
            total -= z * math.log(max(q, tiny))
        if z != 1.0:
            total -= (1.0 - z) * math.log(max(1.0 - q, tiny))
        row[i] = (q - z) / n
    return _finish(x, Ws, bs, Wg, bg, zs, lams, acts, one, kind, slots, gam, w0, total)


def _whole_identity_lms(x, t, Ws, bs, Wg, bg, zs, lams, acts, tiny, one, n, kind, slots, gam, w0):
    """Identity outputs on targets t (N, C): E·N = Σ_n ½ Σ_i (ẑ − z)²."""
    out = lams[len(lams) - 1]
    _forward_j(x, Ws, bs, zs, acts)
    C, N = out.shape
    total = 0.0
    for c in range(C):
        row = out[c]
        for i in range(N):
            e = row[i] - t[i, c]
            total += 0.5 * float(e) * float(e)
            row[i] = e / n
    return _finish(x, Ws, bs, Wg, bg, zs, lams, acts, one, kind, slots, gam, w0, total)


@numba.njit(**_JIT)
def _finish(x, Ws, bs, Wg, bg, zs, lams, acts, one, kind, slots, gam, w0, total):
    """From δ(L)ᵀ over ŷ(L)ᵀ: its bias gradient, the recursion, the penalty; (E·N, P, −1)."""
    _row_sums(lams[len(lams) - 1], bg[len(bg) - 1])
    _backward_j(x, Ws, Wg, bg, zs, lams, acts, one)
    P = _penalty_j(Ws, bs, Wg, bg, kind, slots, gam, w0) if kind > 0 else 0.0
    return total, P, -1


#: terminal condition (the keys of costate_fused.TERMINALS) -> its whole-step kernel
#: ``(x, target, Ws, bs, Wg, bg, zs, lams, acts, tiny, one, n, kind, slots, gam, w0) -> (E·N, P, bad)``
WHOLE = {"softmax_ce": kernel(_whole_softmax_ce, **_JIT), "logistic_ce": kernel(_whole_logistic_ce, **_JIT),
         "identity_lms": kernel(_whole_identity_lms, **_JIT)}
