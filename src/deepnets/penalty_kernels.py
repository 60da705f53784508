"""Weight penalties' closed-form gradients as fused loops, compiled by Numba (:mod:`deepnets._numba`).

One call goes over the chosen weight tensors w(1), ..., w(T) where they lie (``ws``: 1-D NumPy
views of the parameters, no copy) and writes gamma_l ∂E_l/∂w(l) into ``gs`` (1-D views, aligned
with ``ws``: the penalty's own buffers; or, ``add`` True, added to the training step's ``.grad``
tensors) and the penalty P = sum_l gamma_l E_l into ``out[0]``: one dispatch in place of the torch path's copy per tensor
and four or five elementwise kernels (:mod:`deepnets.penalty_gradients`). gamma_l = ``gamma`` · ``mult[l]``
(one gamma: ``mult`` all ones; one per tensor: ``gamma`` = 1), ``mult`` a tuple of floats.
Each weight is read in float64 and every sum is kept in float64, whatever the weights' dtype
(float32 or float64); results are stored in it. The sums of P are reassociated (Numba's
``fastmath={"reassoc"}``, so that they vectorise): P adds positive terms, so the order changes
it by round-off only; no other fast-math liberty is taken (IEEE division, no approximate
reciprocal).
"""

from __future__ import annotations

from typing import Callable

from ._numba import kernel

__all__ = ["weight_decay_kernel", "weight_elimination_kernel", "fastest_entry"]


def fastest_entry(k: kernel, *args) -> Callable:
    """``k`` for arguments of exactly the types of ``args``, at the least cost a call: Numba's
    compiled entry for their signature, without the dispatcher's type look-up at every call (in
    a training step, where that code runs cold, the look-up costs about as much as the rest of
    the call); ``k`` itself where Numba gives no such entry. Only for arguments that keep their
    types: the entry converts each to its signature's type and refuses an array of another
    dtype, but does not check the number of dimensions. ``k`` is called once here, on copies of
    the arrays (those given are not written)."""
    k(*_scratch(args))  # compiled (or loaded from the cache) for these types
    try:
        import numba
        return k.dispatcher().overloads[tuple(numba.typeof(a) for a in args)].entry_point
    except (AttributeError, KeyError, TypeError, ValueError):  # pragma: no cover - another Numba
        return k


def _weight_decay(ws, gs, mult, gamma, out, add):
    """E_l = ½ Σ w², ∂E_l/∂w = w: g = gamma_l w (added to ``gs`` where ``add``), P = ½ Σ_l gamma_l Σ w²."""
    P = 0.0
    for l in range(len(ws)):
        w, gv, gl = ws[l], gs[l], gamma * mult[l]
        s = 0.0
        for j in range(w.shape[0]):
            x = float(w[j])
            gv[j] = gv[j] + gl * x if add else gl * x
            s += x * x
        P += gl * s
    out[0] = 0.5 * P


def _weight_elimination(ws, gs, mult, gamma, w0, out, add):
    """E_l = Σ (w/w0)² / (1 + (w/w0)²) (Weigend, Rumelhart & Huberman 1991): with r = 1/(w0² + w²)
    (the one division) and q = w r, ∂(gamma_l E_l)/∂w = 2 gamma_l w0² w / (w0² + w²)² = (2 gamma_l w0²) q r
    and P = Σ_l gamma_l Σ w q, a sum of positive terms w²/(w0² + w²) (no cancellation for small w);
    the gradient added to ``gs`` where ``add``."""
    w02 = w0 * w0
    P = 0.0
    for l in range(len(ws)):
        w, gv, gl = ws[l], gs[l], gamma * mult[l]
        c = 2.0 * gl * w02
        s = 0.0
        for j in range(w.shape[0]):
            x = float(w[j])
            r = 1.0 / (w02 + x * x)
            q = x * r
            gv[j] = gv[j] + c * q * r if add else c * q * r
            s += x * q
        P += gl * s
    out[0] = P


def _scratch(a):
    """``a`` with every NumPy array in it (in tuples too) replaced by a copy."""
    if isinstance(a, tuple):
        return tuple(_scratch(b) for b in a)
    return a.copy() if hasattr(a, "__array_interface__") else a


#: ``(ws, gs, mult, gamma, out, add)``: weight decay's gradients into (or added to) ``gs``, P into ``out[0]``
weight_decay_kernel = kernel(_weight_decay, error_model="numpy", fastmath={"reassoc"})
#: ``(ws, gs, mult, gamma, w0, out, add)``: weight elimination's gradients into (or added to) ``gs``, P into ``out[0]``
weight_elimination_kernel = kernel(_weight_elimination, error_model="numpy", fastmath={"reassoc"})
