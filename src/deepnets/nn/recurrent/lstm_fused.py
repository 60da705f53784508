"""The peephole LSTM's inference pass on the CPU: the whole time loop in one Numba kernel.

Each step of :func:`_lstm_steps` is one matrix product and one pass over the (H, N) state:

1. ``a_t = [W_z W_x b] [z_{t-1}; x_t; 1]`` (4H, N): the recurrent term, the input term and the
   bias in one GEMM (``np.dot`` inside the kernel, which Numba hands to SciPy's BLAS) on a
   (H + H_in + 1, N) operand whose rows hold z_{t-1}, x_t and ones;
2. the lecture's gates (:mod:`.lstm`), element by element,

       i = sigma(a_i + w_ic c_{t-1}),   f = sigma(a_f + w_fc c_{t-1}),   g = tanh(a_g)
       c_t = f c_{t-1} + i g,   o = sigma(a_o + w_oc c_t),   z_t = o tanh(c_t)

   writing c_t in place and z_t into the output and into the operand of the next product.
   With e = exp(-a), sigma(a) = 1 / (1 + e) and tanh(a) = (1 - e2) / (1 + e2), e2 = exp(-2a),
   so each product of a sigmoid and a tanh is one division:
   i g = (1 - e_g2) / ((1 + e_i)(1 + e_g2)) and z_t = (1 - e_c2) / ((1 + e_o)(1 + e_c2)).

Choices, measured on a shared 2-core AMD EPYC (Zen 4), T=100, N=64, H_in=32, H=128, float32,
1 thread: one product with K = H + H_in + 1 costs ~10% less than the input projection of all
steps as one batched product plus a K = H product a step; the whole loop inside the kernel is a
little faster than a ``torch.mm`` and a kernel call a step (``benchmarks/bench_recurrent_inference.py``
times both; the dispatch alone is ~2.5 us a step); a flat loop over the H N numbers vectorises
for any N (a loop over rows with the peepholes as scalars runs scalar code at N = 1 and is no
faster at N = 64); two passes a step (c_t, then z_t) run the gates ~15% faster than one pass
(shorter dependency chains for the out-of-order core).

The exponential is written out so that LLVM vectorises the loop (with ``math.exp`` Numba calls
libm's scalar exp, and the layer ran at 4.8x ``nn.LSTM``): exp(x) = 2^n p(r), n = round(x / ln 2), r = x - n ln 2, 2^n built in the
exponent bits. float32: a degree-5 polynomial fitted to exp on [-ln2/2, ln2/2] (relative error
1.1e-7 there); float64: Taylor to degree 12 (relative error < 2e-16). The argument is clamped to
+-40 (float32) / +-300 (float64) so that a product of two (1 + e) never overflows: a gate beyond
the clamp is off by less than exp(-40) = 4e-18. Against the torch path (the same equations with
torch's sigmoid): float64 within 1e-12, float32 within 1e-5 (tests).

SciPy's BLAS keeps its own thread pool: the kernel runs with it limited to
``torch.get_num_threads()`` threads (threadpoolctl), so ``torch.set_num_threads`` governs it.
This module imports Numba, so it is imported only where :func:`deepnets._numba.available`;
:func:`~.lstm_infer.lstm_layer_infer` chooses between it and the torch path.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
from numba.core import types
from numba.extending import overload
from torch import Tensor

from ..._numba import blas_threads, kernel

#: exp's argument is clamped to [-CLAMP32, CLAMP32] in float32, [-CLAMP64, CLAMP64] in float64
CLAMP32, CLAMP64 = 40.0, 300.0
_JIT = dict(error_model="numpy", fastmath={"contract"})   # no ZeroDivisionError branches; FMAs


def sigmoid_den(x):
    """1 + exp(-x) (argument clamped as for float64), so that sigma(x) = 1 / sigmoid_den(x).

    The kernel's compiled form computes it in the argument's own float type.
    """
    return 1.0 + math.exp(min(max(-x, -CLAMP64), CLAMP64))


def tanh_parts(x):
    """(1 - e, 1 + e) with e = exp(-2x) (clamped as for float64), whose ratio is tanh(x)."""
    e = math.exp(min(max(-2.0 * x, -CLAMP64), CLAMP64))
    return 1.0 - e, 1.0 + e


@numba.njit(**_JIT)   # compiled into the kernel, which is cached
def _exp32(x):
    """exp(x), float32, x clamped to +-40: 2^n p(r), p a degree-5 fit on [-ln2/2, ln2/2]."""
    x = min(max(x, np.float32(-CLAMP32)), np.float32(CLAMP32))
    t = x * np.float32(1.4426950408889634) + np.float32(12582912.0)   # + 1.5 * 2^23: n in t's low bits
    n = t - np.float32(12582912.0)
    r = x - n * np.float32(0.6931471805599453)    # |n| <= 58: ln 2's float32 rounding costs < 2e-7
    p = np.float32(0.00831253)
    p = p * r + np.float32(0.04189012)
    p = p * r + np.float32(0.16667114)
    p = p * r + np.float32(0.49999232)
    p = p * r + np.float32(1.0)
    p = p * r + np.float32(1.0)
    two_n = np.int32((np.float32(t).view(np.int32) << np.int32(23)) + np.int32(127 << 23))
    return p * two_n.view(np.float32)


@numba.njit(**_JIT)   # compiled into the kernel, which is cached
def _exp64(x):
    """exp(x), float64, x clamped to +-300: 2^n times Taylor's polynomial of degree 12 in r."""
    x = min(max(x, -CLAMP64), CLAMP64)
    t = x * 1.4426950408889634 + 6755399441055744.0                     # + 1.5 * 2^52
    n = t - 6755399441055744.0
    r = x - n * 0.6931471803691238 - n * 1.9082149292705877e-10
    p = 2.08767569878681e-09                                            # 1 / 12!
    p = p * r + 2.505210838544172e-08
    p = p * r + 2.755731922398589e-07
    p = p * r + 2.7557319223985893e-06
    p = p * r + 2.48015873015873e-05
    p = p * r + 0.0001984126984126984
    p = p * r + 0.001388888888888889
    p = p * r + 0.008333333333333333
    p = p * r + 0.041666666666666664
    p = p * r + 0.16666666666666666
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    two_n = np.int64((np.float64(t).view(np.int64) << np.int64(52)) + np.int64(1023 << 52))
    return p * two_n.view(np.float64)


@overload(sigmoid_den, jit_options=_JIT)
def _sigmoid_den_typed(x):
    if x == types.float32:
        return lambda x: np.float32(1.0) + _exp32(-x)
    return lambda x: 1.0 + _exp64(-x)


@overload(tanh_parts, jit_options=_JIT)
def _tanh_parts_typed(x):
    if x == types.float32:
        def parts32(x):
            e = _exp32(np.float32(-2.0) * x)
            return np.float32(1.0) - e, np.float32(1.0) + e
        return parts32

    def parts64(x):
        e = _exp64(-2.0 * x)
        return 1.0 - e, 1.0 + e
    return parts64


def _lstm_steps(W, S, A, p, c, Z, x, st, sn, si):
    """Run len(Z) steps of the peephole layer, in place (module docstring).

    W (4H, K) = [W_z W_x b], K = H + H_in + 1; S (K, N) = [z_{t-1}; x_t; 1], its z rows holding
    z_0 on entry and z_L on exit; A (4H, N) scratch for the product, gate blocks (i, f, g, o);
    p (3, HN) the peepholes (w_ic, w_fc, w_oc) spread over the batch; c (HN): c_0 in, c_L out;
    Z (L, HN): z_t of each step (feature-major); x the input's memory, one dimension, x_t[n, i] at
    t st + n sn + i si (any strides: x_t^T is gathered into S here, no copy of the input). No
    constant in the loop: the helpers give each float type its own.
    """
    HN = c.shape[0]
    N = S.shape[1]
    I = S.shape[0] - 1 - HN // N
    A4 = A.reshape(4, HN)
    S1 = S.reshape(-1)
    for t in range(Z.shape[0]):
        for i in range(I):                                                 # x_t^T
            for n in range(N):
                S1[HN + i * N + n] = x[t * st + n * sn + i * si]
        np.dot(W, S, A)                                                    # W_z z_{t-1} + W_x x_t + b
        for k in range(HN):                    # c_t: two passes, so each has a shorter chain to wait on
            c_prev = c[k]
            d_i = sigmoid_den(A4[0, k] + p[0, k] * c_prev)                # i = 1 / d_i
            d_f = sigmoid_den(A4[1, k] + p[1, k] * c_prev)
            n_g, d_g = tanh_parts(A4[2, k])                                # g = n_g / d_g
            c[k] = c_prev / d_f + n_g / (d_i * d_g)                        # f c_{t-1} + i g
        for k in range(HN):                    # z_t
            c_t = c[k]
            d_o = sigmoid_den(A4[3, k] + p[2, k] * c_t)
            n_c, d_c = tanh_parts(c_t)
            z = n_c / (d_o * d_c)                                          # o tanh(c_t)
            S1[k] = z
            Z[t, k] = z


#: :func:`_lstm_steps` compiled (float32 or float64 arrays, C-contiguous)
lstm_steps = kernel(_lstm_steps, **_JIT)
_blas_threads = blas_threads   # (its first home: moved to deepnets._numba, shared with the MLP step)


def lstm_layer_fused(x: Tensor, z0: Tensor, c0: Tensor, W_x: Tensor, W_z: Tensor, b: Tensor,
                     p: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One peephole layer over x (L, N, H_in) from (z0, c0) (N, H), no gradient, CPU float32/64:
    returns (Z (L, N, H), z_L, c_L) as :func:`~.lstm_infer.lstm_layer_infer` does.

    One :data:`lstm_steps` call; buffers beyond the output are independent of L: the (4H, N)
    pre-activations, the (H + H_in + 1, N) operand, c (H, N) and the peepholes spread over the
    batch. The input is read where it lies, whatever its strides (batch-first, or the previous
    layer's feature-major output).
    """
    L, N, I = x.shape
    H = W_z.shape[1]
    W = torch.cat([W_z, W_x, b.unsqueeze(1)], dim=1).detach()     # (4H, H + H_in + 1)
    S = x.new_empty(H + I + 1, N)                                  # [z_{t-1}; x_t; 1]
    S[:H] = z0.t()
    S[H + I] = 1.0
    A = x.new_empty(4 * H, N)
    c = c0.t().clone(memory_format=torch.contiguous_format)        # a copy, even where .t() is contiguous
    Z = x.new_empty(L, H, N)                                       # z_1 .. z_L, feature-major
    P = p.detach().reshape(3, H, 1).expand(3, H, N).reshape(3, H * N).contiguous()   # (a view when H = 1)
    x = x.detach()
    extent = 1 + sum((size - 1) * stride for size, stride in zip(x.shape, x.stride()))
    x_mem = x.as_strided((extent,), (1,))                          # the input's memory, from x[0, 0, 0]
    W_n, S_n, A_n, P_n, c_n, Z_n, x_n = (t.numpy() for t in (W, S, A, P, c.view(-1), Z.view(L, -1), x_mem))
    run = lstm_steps.dispatcher()   # called directly, without the wrapper's frame
    with _blas_threads(torch.get_num_threads()):
        run(W_n, S_n, A_n, P_n, c_n, Z_n, x_n, *x.stride())
    return Z.transpose(1, 2), Z[L - 1].t().contiguous(), c.t().contiguous()
