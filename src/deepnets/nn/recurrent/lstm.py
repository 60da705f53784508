"""The lecture's LSTM with (optional) diagonal peepholes, fused forward and hand-written BPTT.

For each layer and each time step t, with sigma the logistic function and (.) elementwise:

    i_t = sigma(W_ix x_t + W_iz z_{t-1} + w_ic (.) c_{t-1} + b_i)      input gate
    f_t = sigma(W_fx x_t + W_fz z_{t-1} + w_fc (.) c_{t-1} + b_f)      forget gate
    g_t = tanh(W_cx x_t + W_cz z_{t-1} + b_c)                          cell candidate
    c_t = f_t (.) c_{t-1} + i_t (.) g_t                                 cell state
    o_t = sigma(W_ox x_t + W_oz z_{t-1} + w_oc (.) c_t + b_o)          output gate
    z_t = o_t (.) tanh(c_t)                                             hidden state

The input and forget gates look at the old cell c_{t-1}, the output gate at the new one c_t,
and the peephole weights W_ic, W_fc, W_oc are diagonal, stored as vectors w_ic, w_fc, w_oc
(Gers, Schraudolph & Schmidhuber 2002). The slide writes no bias b_c on the candidate; we keep
one (torch does; set it to zero for the slide's form). With ``peepholes=False`` the cell is
exactly ``torch.nn.LSTM`` (Hochreiter & Schmidhuber 1997 with a forget gate, Gers et al. 2000).
``variant=`` takes a gate out (no forget, input or output gate, coupled input-forget gate, no
output activation: Greff et al. 2017's ablations, :mod:`.lstm_variants`); those run through a
plain autograd loop, the full cell through the fused path below.

Layout (torch's, so weights copy across): the four gate blocks are stacked in the order
(i, f, g, o) in ``weight_x_l{k}`` (4H, H_in), ``weight_z_l{k}`` (4H, H) and ``bias_l{k}`` (4H);
``peephole_l{k}`` is (3, H) holding the rows (w_ic, w_fc, w_oc). torch keeps two biases
b_ih + b_hh; ours is their sum (:meth:`LSTM.from_torch`, :meth:`LSTM.to_torch`).

Speed (:class:`LSTMFunction`): the input projection W_x x_t of all steps is one batched
matmul; the time loop does one addmm and 8 (11 with peepholes) in-place elementwise ops per step
on preallocated, feature-major (H, N) slabs, with tanh computed as 2 sigma(2a) - 1 (ATen's
tanh forks intra-op threads even for one step's slab). The backward is BPTT written by hand,
not autograd's graph of ~20 nodes per step: one matmul and 11 (16) elementwise ops per step,
then dW_x, dW_z and dx as three matmuls over all steps. ``benchmarks/bench_lstm.py`` measures
it against ``torch.nn.LSTM`` (oneDNN's fused kernel). On a 2-core shared CPU, 2 threads,
L=100, N=64, H_in=32, H=128, forward + backward, the ratio to ``nn.LSTM`` was 1.18 with
peepholes and 1.06 without while the machine was quiet (nn.LSTM 27 ms), 0.87-0.90 and
0.79-0.95 while other jobs loaded it (nn.LSTM 130-350 ms); a plain autograd loop: 1.8-2.1
(benchmarks/results/lstm_cpu*.json). When no gradient is recorded the forward pass is
:func:`~.lstm_infer.lstm_layer_infer` instead: no whole-sequence buffers, torch's kernel for the
peephole-free cell, and on the CPU the peephole cell's whole time loop in one Numba kernel
(:mod:`.lstm_fused`; ``benchmarks/bench_recurrent_inference.py``).

The code is device-agnostic, but on a GPU each of those ops is a kernel launch; the fast path
there would be one fused elementwise kernel per step (``torch.compile`` of the step body, or a
hand-written kernel) with the whole time loop captured in a CUDA graph (``torch.cuda.graphs``):
static input, state and buffer tensors, no allocation inside the loop (the forward loop
allocates none), no host sync (no ``.item()``), and one graph per sequence length L.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from ...errors import ConfigError, DataError
from .base import check_sizes, init_uniform_, time_major
from .lstm_infer import lstm_layer_infer
from .lstm_variants import BLOCKS, check_variant, lstm_variant_loop, peephole_gates


def lstm_cell(x: Tensor, z: Tensor, c: Tensor, W_x: Tensor, W_z: Tensor, b: Tensor | None,
              p: Tensor | None) -> tuple[Tensor, Tensor]:
    """One step of the peephole LSTM, plain autograd ops: returns (z_t, c_t).

    Shapes: x (N, H_in), z and c (N, H), W_x (4H, H_in), W_z (4H, H), b (4H), p (3, H) or None.
    """
    a = x @ W_x.t() + z @ W_z.t()                  # (N, 4H), gate blocks (i, f, g, o)
    if b is not None:
        a = a + b
    a_i, a_f, a_g, a_o = a.chunk(4, dim=1)         # (N, H) each
    if p is not None:
        a_i = a_i + p[0] * c                       # input gate sees c_{t-1}
        a_f = a_f + p[1] * c                       # forget gate sees c_{t-1}
    i, f, g = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g)
    c = f * c + i * g
    if p is not None:
        a_o = a_o + p[2] * c                       # output gate sees c_t
    z = torch.sigmoid(a_o) * torch.tanh(c)
    return z, c


def lstm_loop(x: Tensor, z: Tensor, c: Tensor, W_x: Tensor, W_z: Tensor, b: Tensor | None,
              p: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """The plain time loop over :func:`lstm_cell` (autograd): x (L, N, H_in) -> (Z (L, N, H), z_L, c_L).

    The reference the fused path is tested against, and the "plain peephole loop" of the benchmark.
    """
    outs = []
    for x_t in x.unbind(0):
        z, c = lstm_cell(x_t, z, c, W_x, W_z, b, p)
        outs.append(z)
    return torch.stack(outs), z, c


class LSTMFunction(torch.autograd.Function):
    """One LSTM layer over a whole sequence, forward and BPTT backward written by hand.

    ``LSTMFunction.apply(x, z0, c0, W_x, W_z, b, p) -> (Z, z_L, c_L)`` with x (L, N, H_in),
    z0, c0 (N, H), W_x (4H, H_in), W_z (4H, H), b (4H), p (3, H) or None; Z (L, N, H).
    First derivatives only (no double backward).

    Inside, states are feature-major, (H, N) per step as in the lecture's column vectors, so
    that each gate block of the pre-activations a_t = W_x x_t + W_z z_{t-1} + b (4H, N) is one
    contiguous (H, N) slab (torch's vectorised sigmoid and tanh need contiguous memory).

    Backward, with d. the gradient of the loss and s' = s (1 - s) for each gate s:
        dz_t   = dZ_t + W_z^T da_{t+1}
        da_o   = dz_t (.) o'_t tanh c_t
        dc_t   = dc_{t+1}-part + dz_t (.) o_t (1 - tanh^2 c_t) + w_oc (.) da_o
        da_i   = dc_t (.) g_t i'_t,   da_f = dc_t (.) c_{t-1} f'_t,   da_g = dc_t (.) i_t (1 - g_t^2)
        dc_{t-1}-part = dc_t (.) f_t + w_ic (.) da_i + w_fc (.) da_f
    all on one step's slabs while they are in cache; then dW_x = sum_t da_t x_t^T,
    dW_z = sum_t da_t z_{t-1}^T and dx_t = W_x^T da_t are single matmuls over all steps.
    """

    @staticmethod
    def forward(ctx, x, z0, c0, W_x, W_z, b, p):
        L, N, I = x.shape
        H = W_z.shape[1]
        # tanh(a) = 2 sigma(2a) - 1, everywhere in this loop: ATen's float tanh spreads even an
        # (H, N) = 8192-element slab over the intra-op threads, and on a busy machine each such
        # fork waits for a core (measured, 2 threads on a shared 2-core CPU: tanh p90 16 ms,
        # sigmoid p90 4.6 us); sigmoid stays on the calling thread. The candidate rows come
        # pre-scaled by 2, so one sigmoid covers i, f and g.
        scale = x.new_ones(4 * H, 1)
        scale[2 * H:3 * H] = 2.0
        # Pre-activations of every step at once, the bias riding on a column of ones so that
        # no extra pass over the (L, 4H, N) buffer is needed; the loop then turns them into
        # gate values in place.
        x1 = torch.cat([x, x.new_ones(L, N, 1)], dim=2)   # (L, N, I+1)
        W_x1 = torch.cat([W_x, b.unsqueeze(1)], dim=1) * scale   # (4H, I+1)
        S = torch.matmul(W_x1, x1.transpose(1, 2))         # (4H, I+1) x (L, I+1, N) -> (L, 4H, N)
        W_z2 = W_z * scale                                 # (4H, H)
        C = x.new_empty(L + 1, H, N)                       # c_0 .. c_L
        Z = x.new_empty(L + 1, H, N)                       # z_0 .. z_L
        TC = x.new_empty(L, H, N)                          # tanh(c_1) .. tanh(c_L)
        C[0], Z[0] = c0.t(), z0.t()
        M1 = x.new_full((H, N), -1.0)
        S_t = S.unbind(0)                                  # (4H, N) per step
        S_ifg = S[:, :3 * H].unbind(0)                     # (3H, N): i, f and g together
        S_if = S[:, :2 * H].unflatten(1, (2, H)).unbind(0)  # (2, H, N): i and f together
        S_i, S_f, S_g, S_o = (S[:, k * H:(k + 1) * H].unbind(0) for k in range(4))
        C_t, TC_t, Z_t = C.unbind(0), TC.unbind(0), Z.unbind(0)
        w_if = w_oc = None
        if p is not None:
            # Peepholes spread over the batch once: same-shape operands keep addcmul vectorised.
            P = p.unsqueeze(2).expand(3, H, N).contiguous()   # (3, H, N)
            w_if, w_oc = P[:2], P[2]
        for t in range(L):
            S_t[t].addmm_(W_z2, Z_t[t])                    # += W_z z_{t-1}: (4H, H) x (H, N)
            if w_if is None:
                S_t[t].sigmoid_()                          # o needs no c_t: all four gates at once
            else:
                S_if[t].addcmul_(C_t[t], w_if)             # i, f see c_{t-1}
                S_ifg[t].sigmoid_()
            torch.add(M1, S_g[t], alpha=2.0, out=S_g[t])   # g = 2 sigma(2 a_g) - 1 = tanh(a_g)
            c = C_t[t + 1]
            torch.mul(S_f[t], C_t[t], out=c)
            c.addcmul_(S_i[t], S_g[t])                     # c_t = f c_{t-1} + i g
            if w_oc is not None:
                S_o[t].addcmul_(c, w_oc).sigmoid_()        # o sees c_t
            tc = TC_t[t]
            torch.add(c, c, out=tc).sigmoid_()
            torch.add(M1, tc, alpha=2.0, out=tc)           # tanh(c_t)
            torch.mul(S_o[t], tc, out=Z_t[t + 1])          # z_t = o tanh(c_t)
        ctx.save_for_backward(x, W_x, W_z, p, S, C, Z, TC)
        return Z[1:].transpose(1, 2), Z_t[L].t().contiguous(), C_t[L].t().contiguous()

    @staticmethod
    @once_differentiable
    def backward(ctx, dZ, dz_L, dc_L):
        x, W_x, W_z, p, S, C, Z, TC = ctx.saved_tensors
        L, N, I = x.shape
        H = W_z.shape[1]
        S_i, S_f, S_g, S_o = (S[:, k * H:(k + 1) * H].unbind(0) for k in range(4))   # (H, N)
        C_t, TC_t, Z_t = C.unbind(0), TC.unbind(0), Z.unbind(0)
        dA = x.new_empty(L, 4 * H, N)                      # da_t, contiguous per step
        dA_t = dA.unbind(0)                                # (4H, N) per step
        dA_i, dA_f, dA_g, dA_o = (dA[:, k * H:(k + 1) * H].unbind(0) for k in range(4))
        dZT = x.new_zeros(L, H, N) if dZ is None else dZ.permute(0, 2, 1)   # (L, H, N)
        dZ_t = dZT.unbind(0)
        dz = dZ_t[L - 1] if dz_L is None else dZ_t[L - 1] + dz_L.t()
        dc = (x.new_zeros(H, N) if dc_L is None          # a copy: updated in place below
              else dc_L.t().clone(memory_format=torch.contiguous_format))
        w_ic = w_fc = w_oc = None
        if p is not None:
            w_ic, w_fc, w_oc = p.unsqueeze(2).expand(3, H, N).contiguous().unbind(0)   # (H, N) each
            # dw_ic, dw_fc, dw_oc = sums over steps and samples of da_i c_{t-1}, da_f c_{t-1},
            # da_o c_t: accumulated per step while the slabs are in cache (one strided pass over
            # all steps at the end measured 5-20x slower on the shared CPU).
            acc_if, acc_o = x.new_zeros(2, H, N), x.new_zeros(H, N)
            dA_if = dA[:, :2 * H].unflatten(1, (2, H)).unbind(0)    # (2, H, N) per step
        W_zT = W_z.t()
        # Every product below is on one step's (H, N) slabs, hot in cache; s' = s - s^2.
        for t in range(L - 1, -1, -1):
            if t < L - 1:
                dz = torch.addmm(dZ_t[t], W_zT, dA_t[t + 1])   # (H, 4H) x (4H, N)
            i, f, g, o, tc = S_i[t], S_f[t], S_g[t], S_o[t], TC_t[t]
            a = dz * Z_t[t + 1]                            # dz o tanh(c)
            torch.addcmul(a, a, o, value=-1, out=dA_o[t])  # da_o = dz o' tanh(c)
            dc.addcmul_(dz, o).addcmul_(a, tc, value=-1)   # += dz o (1 - tanh^2 c)
            if w_oc is not None:
                dc.addcmul_(dA_o[t], w_oc)                 # o saw c_t
            e = dc * i
            eg = e * g
            torch.addcmul(e, eg, g, value=-1, out=dA_g[t])     # da_g = dc i (1 - g^2)
            torch.addcmul(eg, eg, i, value=-1, out=dA_i[t])    # da_i = dc g i'
            dc = dc * f                                    # dc_{t-1} through c_t = f c_{t-1} + ...
            h = dc * C_t[t]                                # dc f c_{t-1}
            torch.addcmul(h, h, f, value=-1, out=dA_f[t])      # da_f = dc c_{t-1} f'
            if w_oc is not None:
                dc.addcmul_(dA_i[t], w_ic).addcmul_(dA_f[t], w_fc)   # i, f saw c_{t-1}
                acc_if.addcmul_(dA_if[t], C_t[t])
                acc_o.addcmul_(dA_o[t], C_t[t + 1])
        dA2 = dA.transpose(0, 1).reshape(4 * H, L * N)     # (4H, L*N): one copy
        dx = dz0 = dc0 = dW_x = dW_z = db = dp = None
        if ctx.needs_input_grad[0]:
            dx = (dA2.t() @ W_x).view(L, N, I)             # (L*N, 4H) x (4H, I)
        if ctx.needs_input_grad[1]:
            dz0 = (W_zT @ dA_t[0]).t()                     # (H, 4H) x (4H, N)
        if ctx.needs_input_grad[2]:
            dc0 = dc.t()
        if ctx.needs_input_grad[3]:
            dW_x = dA2 @ x.reshape(L * N, I)               # (4H, L*N) x (L*N, I)
        if ctx.needs_input_grad[4]:
            Z_prev = Z[:L].transpose(0, 1).reshape(H, L * N)   # (H, L*N): one copy
            dW_z = dA2 @ Z_prev.t()                        # (4H, L*N) x (L*N, H)
        if ctx.needs_input_grad[5]:
            db = dA2.sum(1)
        if p is not None and ctx.needs_input_grad[6]:
            dp = torch.cat([acc_if.sum(2), acc_o.sum(1).unsqueeze(0)])   # (3, H)
        return dx, dz0, dc0, dW_x, dW_z, db, dp


class LSTM(nn.Module):
    r"""A stack of the lecture's peephole LSTM layers, a drop-in for ``torch.nn.LSTM``.

    Gate equations: see the module docstring (i, f see c_{t-1}; o sees c_t; diagonal peepholes).
    Layer k > 0 takes the hidden states z_t of layer k - 1 as its input x_t (separate weights).

    Shapes (N batch, L sequence length, H_in input size, H hidden size, D = num_layers):

    - input: (L, N, H_in), or (N, L, H_in) with ``batch_first=True``, or unbatched (L, H_in).
    - state (optional): a tuple (z_0, c_0), each (D, N, H) (or (D, H) unbatched); zeros if None.
    - output: (L, N, H) (or (N, L, H) with ``batch_first``): z_t of the last layer, every step.
    - returned state: (z_L, c_L), each (D, N, H).

    Args:
        input_size: H_in.
        hidden_size: H.
        num_layers: D, stacked layers with separate weights. Default 1.
        peepholes: include w_ic, w_fc, w_oc. Default True (the lecture's LSTM).
        bias: include b_i, b_f, b_c, b_o. Default True.
        batch_first: (N, L, ...) tensors instead of (L, N, ...). Default False.
        dropout: dropout probability on the outputs of every layer but the last. Default 0.
        forget_bias: added to b_f at initialisation (Gers et al. 2000 suggest 1); with
            ``variant="cifg"`` (f = 1 - i) subtracted from b_i, the same initial f. Default 0.
        variant: a gate ablation of Greff et al. (2017), one of
            :data:`~.lstm_variants.LSTM_VARIANTS`: "vanilla" (the full cell), "no_forget",
            "no_input", "no_output", "cifg", "no_output_activation" (see :mod:`.lstm_variants`).
            A removed gate has no weights; every variant but "vanilla" runs through the plain
            autograd loop :func:`~.lstm_variants.lstm_variant_loop`. Default "vanilla".
        generator: for the U(-1/sqrt(H), 1/sqrt(H)) initialisation of every parameter.

    References: Hochreiter & Schmidhuber (1997), Neural Computation 9(8); Gers, Schmidhuber &
    Cummins (2000), "Learning to forget"; Gers, Schraudolph & Schmidhuber (2002), JMLR 3.

    >>> lstm = LSTM(3, 5, num_layers=2, batch_first=True)
    >>> y, (z, c) = lstm(torch.randn(4, 10, 3))
    >>> tuple(y.shape), tuple(z.shape), tuple(c.shape)
    ((4, 10, 5), (2, 4, 5), (2, 4, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 peepholes: bool = True, bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, forget_bias: float = 0.0, variant: str = "vanilla",
                 generator: torch.Generator | None = None):
        super().__init__()
        check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {dropout!r}")
        blocks = BLOCKS[check_variant(variant)]
        if forget_bias and "f" not in blocks and variant != "cifg":
            raise ConfigError(f"forget_bias must be 0 for the LSTM variant {variant!r}, which has no forget gate, "
                              f"got {forget_bias!r}")
        self.variant = variant
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.peepholes, self.bias, self.batch_first, self.dropout = peepholes, bias, batch_first, dropout
        H, G, P = hidden_size, len(blocks), len(peephole_gates(variant))   # vanilla: G = 4, P = 3
        for k in range(num_layers):
            fan_in = input_size if k == 0 else H
            self.register_parameter(f"weight_x_l{k}", nn.Parameter(torch.empty(G * H, fan_in)))
            self.register_parameter(f"weight_z_l{k}", nn.Parameter(torch.empty(G * H, H)))
            self.register_parameter(f"bias_l{k}", nn.Parameter(torch.empty(G * H)) if bias else None)
            self.register_parameter(f"peephole_l{k}", nn.Parameter(torch.empty(P, H)) if peepholes else None)
        init_uniform_(self.parameters(), H, generator)
        if bias and forget_bias:
            gate, sign = ("i", -1.0) if variant == "cifg" else ("f", 1.0)   # CIFG: f = 1 - sigma(a_i)
            j = blocks.index(gate)
            with torch.no_grad():
                for k in range(num_layers):
                    self.layer_weights(k)[2][j * H:(j + 1) * H] += sign * forget_bias

    def layer_weights(self, k: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """(W_x, W_z, b, p) of layer k."""
        return (getattr(self, f"weight_x_l{k}"), getattr(self, f"weight_z_l{k}"),
                getattr(self, f"bias_l{k}"), getattr(self, f"peephole_l{k}"))

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None):
        """Run the stack over the sequence: returns (output, (z_L, c_L))."""
        x, unbatched = time_major(x, self.input_size, self.batch_first)
        L, N, _ = x.shape
        D, H = self.num_layers, self.hidden_size
        if state is None:
            z0 = c0 = x.new_zeros(D, N, H)
        else:
            z0, c0 = state
            if unbatched:
                z0, c0 = z0.unsqueeze(1), c0.unsqueeze(1)
            if z0.shape != (D, N, H) or c0.shape != (D, N, H):
                raise DataError(f"expected state (z0, c0) of shape {(D, N, H)} each, "
                                f"got {tuple(z0.shape)} and {tuple(c0.shape)}")
        zs, cs = [], []
        # no gradient recorded: the inference pass, which keeps no whole-sequence buffers (not while
        # torch.export / ONNX traces the module: that wants plain out-of-place ops)
        infer = not torch.compiler.is_exporting() and (not torch.is_grad_enabled() or not (
            x.requires_grad or z0.requires_grad or c0.requires_grad or any(w.requires_grad for w in self.parameters())))
        for k in range(D):
            W_x, W_z, b, p = self.layer_weights(k)
            if b is None:
                b = x.new_zeros(W_z.shape[0])
            if self.variant != "vanilla":      # a gate ablation: the plain autograd loop, every mode
                x, z, c = lstm_variant_loop(x, z0[k], c0[k], W_x, W_z, b, p, self.variant)
            elif torch.compiler.is_exporting():  # ONNX/torch.export: plain ops, not the in-place fused loop
                x, z, c = lstm_loop(x, z0[k], c0[k], W_x, W_z, b, p)
            elif infer:
                x, z, c = lstm_layer_infer(x, z0[k], c0[k], W_x, W_z, b, p)
            else:
                x, z, c = LSTMFunction.apply(x, z0[k], c0[k], W_x, W_z, b, p)
            if self.dropout and self.training and k < D - 1:
                x = nn.functional.dropout(x, self.dropout)
            zs.append(z)
            cs.append(c)
        z, c = torch.stack(zs), torch.stack(cs)
        if unbatched:
            return x.squeeze(1), (z.squeeze(1), c.squeeze(1))
        return (x.transpose(0, 1) if self.batch_first else x), (z, c)

    @classmethod
    def from_torch(cls, module: nn.LSTM) -> "LSTM":
        """A peephole-free LSTM holding a copy of ``module``'s weights (b = b_ih + b_hh)."""
        if module.bidirectional or module.proj_size:
            raise ConfigError("from_torch copies unidirectional LSTMs without projections only")
        ours = cls(module.input_size, module.hidden_size, module.num_layers, peepholes=False,
                   bias=module.bias, batch_first=module.batch_first, dropout=module.dropout)
        with torch.no_grad():
            for k in range(module.num_layers):
                W_x, W_z, b, _ = ours.layer_weights(k)
                W_x.copy_(getattr(module, f"weight_ih_l{k}"))
                W_z.copy_(getattr(module, f"weight_hh_l{k}"))
                if b is not None:
                    b.copy_(getattr(module, f"bias_ih_l{k}") + getattr(module, f"bias_hh_l{k}"))
        return ours

    def to_torch(self) -> nn.LSTM:
        """A ``torch.nn.LSTM`` with these weights (b_ih = b, b_hh = 0); needs peepholes=False."""
        if self.peepholes or self.variant != "vanilla":
            raise ConfigError(f"torch.nn.LSTM is the vanilla cell without peepholes: build with peepholes=False and "
                              f"variant='vanilla', got peepholes={self.peepholes} and variant={self.variant!r}")
        theirs = nn.LSTM(self.input_size, self.hidden_size, self.num_layers, bias=self.bias,
                         batch_first=self.batch_first, dropout=self.dropout)
        with torch.no_grad():
            for k in range(self.num_layers):
                W_x, W_z, b, _ = self.layer_weights(k)
                getattr(theirs, f"weight_ih_l{k}").copy_(W_x)
                getattr(theirs, f"weight_hh_l{k}").copy_(W_z)
                if b is not None:
                    getattr(theirs, f"bias_ih_l{k}").copy_(b)
                    getattr(theirs, f"bias_hh_l{k}").zero_()
        return theirs
