"""One-pass CPU kernels of the co-state step (Numba), where torch would run several tiny ops.

Each replaces a handful of torch kernels on a (N, M) batch by one loop over it, in the step of
:mod:`deepnets.train.costate_buffers`; they take NumPy views of the step's own buffers and write
their results in place. The formulas are those of :mod:`deepnets.backprop` and
:mod:`deepnets.losses` (Rumelhart, Hinton & Williams 1986; Bishop 1995, §6.9 for the matched
output/cost pairs whose δ(L) = (ẑ − z)/N):

- terminal conditions, E and δ(L) together, with ∂E/∂b(L) = Σ_n δ(L) in the same pass:
  softmax + cross-entropy on class labels (E = −(1/N) Σ_n ln max(ẑ_{n,y_n}, tiny)),
  logistic + cross-entropy on 0/1 targets, identity + LMS (E = (1/N) Σ_n ½ Σ_i (ẑ − z)²);
- a hidden layer's δ = λ ∘ g'(ŷ) from its stored output ẑ, written over λ, with
  ∂E/∂b = Σ_n δ in the same pass: ReLU (λ where ẑ > 0), tanh (1 − ẑ²), logistic (ẑ (1 − ẑ)),
  on (M, N) arrays (a unit a row: the fused step keeps its hidden layers feature-major);
- :func:`all_finite`: no inf or NaN in an array (the non-finite guard of a step's gradients).

The elementwise arithmetic of the hidden δ and of δ(L) is torch's, operation for operation (bit
for bit on the same inputs); the sums (E, the bias gradients) are accumulated in float64 (the bias
gradients in vectorised partial sums) and the log is libm's, so those differ from torch's by round-off (tested at 1e-12
in float64 against the torch path and against autograd). Every kernel returns a status: a class
label out of range is reported, never read past an array.
"""

from __future__ import annotations

import math

import numpy as np

from .._numba import kernel


def _softmax_ce_labels(pT, labels, delta, gb, tiny, one, n):
    """E·N = −Σ_n ln max(ẑ_{n,y_n}, tiny) and δ(L) = (ẑ − onehot(y)) / N into ``delta`` (N, C),
    from the softmax ẑ given transposed (``pT``, (C, N): torch's softmax over the long axis);
    Σ_n δ into ``gb`` (length 0: no bias). ``one`` and ``n`` are 1 and N in ẑ's dtype: ẑ_y − 1 and the division
    are torch's float operations, so δ(L) is bit for bit the torch path's. Returns (E·N, −1), or
    (0, n) for the first sample whose label is out of range (nothing written)."""
    C, N = pT.shape
    for i in range(N):
        if labels[i] < 0 or labels[i] >= C:
            return 0.0, i
    acc = np.zeros(C)
    total = 0.0
    for i in range(N):
        y = labels[i]
        for c in range(C):
            q = pT[c, i]
            if c == y:
                total -= math.log(max(q, tiny))
                q = q - one
            d = q / n
            delta[i, c] = d
            acc[c] += d
    for c in range(gb.shape[0]):
        gb[c] = acc[c]
    return total, -1


def _logistic_ce(p, t, delta, gb, tiny, one, n):
    """E·N = −Σ_n [z ln max(ẑ, tiny) + (1 − z) ln max(1 − ẑ, tiny)] and δ(L) = (ẑ − z) / N for
    one logistic output ẑ = ``p`` (N, 1) on targets z (N, 1), over ``delta``; Σ_n δ into gb."""
    N = p.shape[0]
    total, acc = 0.0, 0.0
    for i in range(N):
        q = p[i, 0]
        z = t[i, 0]
        e = 0.0
        if z != 0.0:
            e -= z * math.log(max(q, tiny))
        if z != 1.0:
            e -= (1.0 - z) * math.log(max(1.0 - q, tiny))
        total += e
        d = (q - z) / n
        delta[i, 0] = d
        acc += d
    if gb.shape[0] > 0:
        gb[0] = acc
    return total, -1


def _identity_lms(a, t, delta, gb, tiny, one, n):
    """E·N = Σ_n ½ Σ_i (ẑ − z)² and δ(L) = (ẑ − z) / N for an identity output, over ``delta``;
    Σ_n δ into gb."""
    N, C = a.shape
    acc = np.zeros(C)
    total = 0.0
    for i in range(N):
        s = 0.0
        for c in range(C):
            e = a[i, c] - t[i, c]
            s += e * e
            d = e / n
            delta[i, c] = d
            acc[c] += d
        total += 0.5 * s
    for c in range(gb.shape[0]):
        gb[c] = acc[c]
    return total, -1


def _relu_delta(lam, z, gb, one):
    """δ = λ where ẑ > 0, else 0, over λ (M, N: a unit a row, a sample a column); Σ_n δ into gb
    (length 0: no bias); ``one`` unused."""
    M, N = lam.shape
    for j in range(M):
        s = 0.0
        for n in range(N):
            d = lam[j, n] if z[j, n] > 0 else 0.0
            lam[j, n] = d
            s += d
        if j < gb.shape[0]:
            gb[j] = s


def _tanh_delta(lam, z, gb, one):
    """δ = λ (1 − ẑ²) over λ (M, N) (torch's ``lam * (1 - z * z)``, ``one`` a 1 of their dtype);
    Σ_n δ into gb."""
    M, N = lam.shape
    for j in range(M):
        s = 0.0
        for n in range(N):
            zz = z[j, n]
            d = lam[j, n] * (one - zz * zz)
            lam[j, n] = d
            s += d
        if j < gb.shape[0]:
            gb[j] = s


def _logistic_delta(lam, z, gb, one):
    """δ = λ ẑ (1 − ẑ) over λ (M, N) (torch's ``lam * (z * (1 - z))``, ``one`` a 1 of their
    dtype); Σ_n δ into gb."""
    M, N = lam.shape
    for j in range(M):
        s = 0.0
        for n in range(N):
            zz = z[j, n]
            d = lam[j, n] * (zz * (one - zz))
            lam[j, n] = d
            s += d
        if j < gb.shape[0]:
            gb[j] = s


def _all_finite(flat):
    """True when no element of the 1-D array is inf or NaN (0·x is NaN exactly for those)."""
    s = 0.0
    for i in range(flat.shape[0]):
        s += flat[i] * 0.0
    return s == 0.0


softmax_ce_labels = kernel(_softmax_ce_labels)
logistic_ce = kernel(_logistic_ce)
identity_lms = kernel(_identity_lms)
# the δ kernels may reassociate their row sums (float64, vectorised: about 5x faster on a 100 x 200
# layer); the elementwise δ stays torch's operations (tested bit for bit against them)
relu_delta = kernel(_relu_delta, fastmath={"reassoc"})
tanh_delta = kernel(_tanh_delta, fastmath={"reassoc"})
logistic_delta = kernel(_logistic_delta, fastmath={"reassoc"})
all_finite = kernel(_all_finite, fastmath={"reassoc"})
