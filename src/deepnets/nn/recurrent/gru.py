"""The lecture's gated recurrent unit (GRU), and exactly where it differs from ``torch.nn.GRU``.

The slide's GRU, per layer and step (sigma logistic, (.) elementwise):

    r_t = sigma(W_rx x_t + W_rz z_{t-1} + b_r)                       reset gate
    o_t = sigma(W_ox x_t + W_oz z_{t-1} + b_o)                       update gate
    z_t = (1 - o_t) (.) z_{t-1} + o_t (.) tanh(W_zx x_t + W_zz (r_t (.) z_{t-1}) + b_z)

(the slide writes no b_z; bias=False drops all three biases.)

``torch.nn.GRU`` (like cuDNN) writes the same cell with two differences:

1. its update gate is the complement, u_t = 1 - o_t, so h_t = (1 - u_t) n_t + u_t h_{t-1};
   since 1 - sigma(a) = sigma(-a), this is our o_t with the rows of (W_ox, W_oz, b_o) negated,
   an exact re-parametrisation (:meth:`GRU.from_torch` does it);
2. it resets *after* the recurrent matmul, n_t = tanh(W_in x_t + b_in + r_t (.) (W_hn h_{t-1} + b_hn)),
   where the lecture resets *before* it, W_zz (r_t (.) z_{t-1}) (Cho et al. 2014, eq. 8).
   These agree for every r_t only when W_zz is diagonal and b_hn = 0; in general they are
   different models (Chung et al. 2014 train the second; cuDNN chose it because W_hn h_{t-1}
   for all three gates is then one matmul).

``GRU(reset_after=True)`` builds torch's form (with its extra bias b_zn inside the reset
product) and equals ``torch.nn.GRU`` weight for weight; the default is the lecture's.

When no gradient is recorded (``torch.no_grad()``, frozen weights), torch's form runs torch's own
GRU kernel and the lecture's form a loop that allocates nothing per step
(``benchmarks/bench_recurrent_inference.py``).

References: Cho et al. (2014), "Learning phrase representations using RNN encoder-decoder",
EMNLP; Chung, Gulcehre, Cho & Bengio (2014), arXiv 1412.3555.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...errors import ConfigError
from .base import StackedRecurrent, copy_from_torch, copy_to_torch


def gru_step(a_x: Tensor, z: Tensor, W_z: Tensor, b_zn: Tensor | None = None,
             reset_after: bool = False) -> Tensor:
    """One GRU step from the input term a_x = W_x x_t + b (N, 3H), blocks (r, o, candidate).

    z (N, H), W_z (3H, H); b_zn (H) only with ``reset_after``. Returns z_t (N, H).
    """
    H = z.shape[1]
    if reset_after:
        a_z = z @ W_z.t()                                # (N, H) x (H, 3H)
        ro = torch.sigmoid(a_x[:, :2 * H] + a_z[:, :2 * H])
        r, o = ro[:, :H], ro[:, H:]
        a_zn = a_z[:, 2 * H:] if b_zn is None else a_z[:, 2 * H:] + b_zn
        n = torch.tanh(a_x[:, 2 * H:] + r * a_zn)        # reset after the matmul (torch, cuDNN)
    else:
        ro = torch.sigmoid(torch.addmm(a_x[:, :2 * H], z, W_z[:2 * H].t()))   # (N, H) x (H, 2H)
        r, o = ro[:, :H], ro[:, H:]
        n = torch.tanh(torch.addmm(a_x[:, 2 * H:], r * z, W_z[2 * H:].t()))  # reset before (lecture)
    return torch.lerp(z, n, o)                           # (1 - o) z_{t-1} + o n


def gru_cell(x: Tensor, z: Tensor, W_x: Tensor, W_z: Tensor, b: Tensor | None = None,
             b_zn: Tensor | None = None, reset_after: bool = False) -> Tensor:
    """One GRU step from x_t (N, H_in): W_x (3H, H_in), b (3H); see :func:`gru_step`."""
    a_x = x @ W_x.t() if b is None else torch.addmm(b, x, W_x.t())   # (N, H_in) x (H_in, 3H)
    return gru_step(a_x, z, W_z, b_zn, reset_after)


class GRU(StackedRecurrent):
    """A stack of the lecture's GRU layers (module docstring for the equations).

    Parameters per layer k: ``weight_x_l{k}`` (3H, H_in) = [W_rx; W_ox; W_zx],
    ``weight_z_l{k}`` (3H, H) = [W_rz; W_oz; W_zz], ``bias_l{k}`` (3H) = [b_r; b_o; b_z], and
    with ``reset_after`` and ``bias`` also ``bias_zn_l{k}`` (H), torch's b_hn.

    Shapes (N batch, L sequence length, H_in input size, H hidden size, D = num_layers):
    input (L, N, H_in) (or (N, L, H_in) with ``batch_first``, or unbatched (L, H_in));
    state z_0 (D, N, H), zeros if None; output (L, N, H); returned z_L (D, N, H).

    Args:
        input_size: H_in.
        hidden_size: H.
        num_layers: D. Default 1.
        bias: include the biases. Default True.
        batch_first: (N, L, ...) tensors. Default False.
        dropout: dropout on the outputs of every layer but the last. Default 0.
        reset_after: torch's / cuDNN's r (.) (W z + b) instead of the lecture's W (r (.) z).
            Default False.
        generator: for the U(-1/sqrt(H), 1/sqrt(H)) initialisation.

    >>> gru = GRU(3, 4, batch_first=True)
    >>> y, z = gru(torch.zeros(2, 6, 3))
    >>> tuple(y.shape), tuple(z.shape)
    ((2, 6, 4), (1, 2, 4))
    """

    gates = 3

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 reset_after: bool = False, generator: torch.Generator | None = None):
        self.reset_after = bool(reset_after)
        super().__init__(input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
                         dropout=dropout, generator=generator)

    def extra_parameters(self) -> None:
        for k in range(self.num_layers):
            b_zn = nn.Parameter(torch.empty(self.hidden_size)) if self.reset_after and self.bias else None
            self.register_parameter(f"bias_zn_l{k}", b_zn)

    def layer(self, k, x, z):
        W_z, b_zn = getattr(self, f"weight_z_l{k}"), getattr(self, f"bias_zn_l{k}")
        if not torch.compiler.is_exporting() and not (torch.is_grad_enabled() and (
                x.requires_grad or z.requires_grad or any(w.requires_grad for w in self.parameters()))):
            # inference: torch's form by torch's own GRU kernel, the lecture's on reused slabs
            return self._torch_kernel(k, x, z) if self.reset_after else self._infer_lecture(k, x, z)
        outs = []
        for a_t in self.input_projection(k, x).unbind(0):
            z = gru_step(a_t, z, W_z, b_zn, self.reset_after)
            outs.append(z)
        return torch.stack(outs), z

    def _infer_lecture(self, k, x, z):
        """Layer k in the lecture's form without a graph: each step's gates in two reused (N, 2H)
        and (N, H) slabs, z_t written straight into the output (the same ops as :func:`gru_step`)."""
        W_z, H = getattr(self, f"weight_z_l{k}"), self.hidden_size
        W_ro, W_c = W_z[:2 * H].t(), W_z[2 * H:].t()
        A = self.input_projection(k, x)                    # (L, N, 3H)
        Y = x.new_empty(A.shape[0], x.shape[1], H)
        ro, rz, n = x.new_empty(x.shape[1], 2 * H), x.new_empty(x.shape[1], H), x.new_empty(x.shape[1], H)
        r, o = ro[:, :H], ro[:, H:]
        for t, a in enumerate(A.unbind(0)):
            torch.addmm(a[:, :2 * H], z, W_ro, out=ro).sigmoid_()
            torch.addmm(a[:, 2 * H:], torch.mul(r, z, out=rz), W_c, out=n).tanh_()   # reset before
            z = torch.lerp(z, n, o, out=Y[t])              # (1 - o) z_{t-1} + o n
        return Y, z

    def _torch_kernel(self, k, x, z):
        """Layer k by ``torch.nn.GRU``'s kernel (no gradient): W_ih, W_hh, b_ih = ±(W_x, W_z, b) with
        the update rows negated (u = 1 − o), b_hh = (0, 0, b_zn)."""
        s = self._sign().to(x.dtype).unsqueeze(1)
        W_x, b = getattr(self, f"weight_x_l{k}"), getattr(self, f"bias_l{k}")
        weights = [s * W_x, s * getattr(self, f"weight_z_l{k}")]
        if b is not None:
            H = self.hidden_size
            weights += [s[:, 0] * b, torch.cat([b.new_zeros(2 * H), getattr(self, f"bias_zn_l{k}")])]
        out, z_L = torch._VF.gru(x, z.unsqueeze(0), weights, b is not None, 1, 0.0, False, False, False)
        return out, z_L[0]

    def _sign(self) -> Tensor:
        """+1 on the r and candidate rows, -1 on the update rows (o = 1 - u)."""
        H = self.hidden_size
        return torch.cat([torch.ones(H), -torch.ones(H), torch.ones(H)])

    @classmethod
    def from_torch(cls, module: nn.GRU) -> "GRU":
        """An exact copy of a unidirectional ``nn.GRU``: reset_after=True, o-rows negated."""
        if module.bidirectional:
            raise ConfigError("from_torch copies unidirectional GRUs only")
        ours = cls(module.input_size, module.hidden_size, module.num_layers, bias=module.bias,
                   batch_first=module.batch_first, dropout=module.dropout, reset_after=True)
        H = ours.hidden_size
        copy_from_torch(ours, module, ours._sign())
        if ours.bias:
            with torch.no_grad():
                for k in range(ours.num_layers):
                    b_hn = getattr(module, f"bias_hh_l{k}")[2 * H:]
                    getattr(ours, f"bias_l{k}")[2 * H:] -= b_hn     # b_in alone outside r (.)
                    getattr(ours, f"bias_zn_l{k}").copy_(b_hn)
        return ours

    def to_torch(self) -> nn.GRU:
        """A ``torch.nn.GRU`` with these weights; needs reset_after=True (the forms differ otherwise)."""
        if not self.reset_after:
            raise ConfigError("torch.nn.GRU resets after the recurrent matmul: build with "
                              "reset_after=True to copy weights exactly")
        theirs = nn.GRU(self.input_size, self.hidden_size, self.num_layers, bias=self.bias,
                        batch_first=self.batch_first, dropout=self.dropout)
        H = self.hidden_size
        copy_to_torch(self, theirs, self._sign())
        if self.bias:
            with torch.no_grad():
                for k in range(self.num_layers):
                    getattr(theirs, f"bias_hh_l{k}")[2 * H:] = getattr(self, f"bias_zn_l{k}")
        return theirs
