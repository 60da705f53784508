"""The peephole LSTM layer's forward pass for inference: no buffers kept for a backward pass.

The same equations and the same feature-major (H, N) slabs as :class:`~.lstm.LSTMFunction`
(see :mod:`.lstm` for the gates), with three differences that only a pass without gradients
allows: the cell state c_t and tanh(c_t) live in one (H, N) slab each, overwritten step by step,
instead of whole-sequence histories; the input projection W_x x_t + b is computed a chunk of
steps at a time into one reused (chunk, 4H, N) buffer instead of for the whole sequence; and
nothing is saved. Memory beyond the output (L, N, H) is then independent of the sequence length
L (tested). Without peepholes the layer is torch's LSTM cell and torch's fused kernel runs it;
with them, on the CPU in float32/float64, the whole time loop runs in one Numba kernel (a GEMM and
one pass over the gates a step, :mod:`.lstm_fused`) unless Numba is off (``DEEPNETS_NO_NUMBA=1``),
where the torch loop below runs (as on a GPU and in other dtypes).
:meth:`LSTM.forward` takes this path when no gradient is being recorded
(``torch.no_grad()``, ``torch.inference_mode()``, or no input or weight requiring one).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ... import _numba

#: steps whose input projection is computed at once (bounds the buffer: CHUNK x 4H x N)
CHUNK = 16


def fused_applies(*tensors: Tensor) -> bool:
    """Whether the fused CPU kernel takes these tensors: all on the CPU, all float32 or all float64,
    and Numba usable (:func:`deepnets._numba.available`, False under ``DEEPNETS_NO_NUMBA=1``)."""
    dtype = tensors[0].dtype
    return (dtype in (torch.float32, torch.float64)
            and all(t.device.type == "cpu" and t.dtype == dtype for t in tensors) and _numba.available())


def lstm_layer_infer(x: Tensor, z0: Tensor, c0: Tensor, W_x: Tensor, W_z: Tensor, b: Tensor,
                     p: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """One layer over x (L, N, H_in) from (z0, c0) (N, H): returns (Z (L, N, H), z_L, c_L).

    Without peepholes the cell is exactly ``torch.nn.LSTM``'s, and torch's own LSTM kernel runs it
    (b as b_ih, b_hh = 0). With them, on the CPU in float32 or float64, :func:`.lstm_fused.lstm_layer_fused`
    (the time loop in one Numba kernel) where Numba may be used; otherwise the torch loop below,
    where tanh(a) is computed as 2 σ(2a) − 1 as in the training pass (one sigmoid covers i, f and g).
    """
    if p is not None and fused_applies(x, z0, c0, W_x, W_z, b, p):
        from .lstm_fused import lstm_layer_fused   # imports Numba: only where it is to be used
        return lstm_layer_fused(x, z0, c0, W_x, W_z, b, p)
    if p is None:
        Z, z, c = torch._VF.lstm(x, (z0.unsqueeze(0), c0.unsqueeze(0)), (W_x, W_z, b, torch.zeros_like(b)),
                                 True, 1, 0.0, False, False, False)
        return Z, z[0], c[0]
    L, N, I = x.shape
    H = W_z.shape[1]
    scale = x.new_ones(4 * H, 1)
    scale[2 * H:3 * H] = 2.0
    W_x2, b2 = W_x * scale, (b * scale[:, 0]).unsqueeze(1)       # (4H, I), (4H, 1)
    W_z2 = W_z * scale                                            # (4H, H)
    xT = x.transpose(1, 2)                                        # (L, I, N) view
    Z = x.new_empty(L, H, N)                                      # z_1 .. z_L, feature-major
    c = c0.t().clone(memory_format=torch.contiguous_format)       # (H, N), overwritten in place: a copy
    # (not .contiguous(), which returns c0 itself when N or H is 1, and the caller's state would change)
    tc = x.new_empty(H, N)
    M1 = x.new_full((H, N), -1.0)
    S = x.new_empty(min(CHUNK, L), 4 * H, N)
    z = z0.t()
    w_if = w_oc = None
    if p is not None:
        P = p.unsqueeze(2).expand(3, H, N).contiguous()           # (3, H, N)
        w_if, w_oc = P[:2], P[2]
    for t0 in range(0, L, CHUNK):
        k = min(CHUNK, L - t0)
        s = S[:k]
        torch.baddbmm(b2, W_x2.expand(k, 4 * H, I), xT[t0:t0 + k], out=s)   # W_x x_t + b, k steps
        for j in range(k):
            a = s[j]                                              # (4H, N)
            a_if, a_i, a_f, a_g, a_o = a[:2 * H].view(2, H, N), a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
            a.addmm_(W_z2, z)                                     # += W_z z_{t-1}
            if w_if is None:
                a.sigmoid_()
            else:
                a_if.addcmul_(c, w_if)                            # i, f see c_{t-1}
                a[:3 * H].sigmoid_()
            torch.add(M1, a_g, alpha=2.0, out=a_g)                # g = tanh(a_g)
            c.mul_(a_f).addcmul_(a_i, a_g)                        # c_t = f c_{t-1} + i g
            if w_oc is not None:
                a_o.addcmul_(c, w_oc).sigmoid_()                  # o sees c_t
            torch.add(c, c, out=tc).sigmoid_()
            torch.add(M1, tc, alpha=2.0, out=tc)                  # tanh(c_t)
            z = torch.mul(a_o, tc, out=Z[t0 + j])                 # z_t = o tanh(c_t)
    return Z.transpose(1, 2), z.t().contiguous(), c.t().contiguous()
