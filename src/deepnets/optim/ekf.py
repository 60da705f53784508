"""Extended Kalman filter training: global EKF and decoupled EKF (MEKA).

The weights are the state of a Kalman filter and the network is its measurement model,
z = ẑ(x, w) + v with v ~ N(0, R), w_{t+1} = w_t + q_t with q ~ N(0, Q). Linearising ẑ around the
current weights with its Jacobian H = ∂ẑ/∂w (m × P for m = N·C measured outputs) gives, for each
weight group i with its own covariance P_i (Puskorius & Feldkamp 1991):

    A   = (R + Σ_j H_j P_j H_j^T)^{-1}                 (m, m)
    K_i = P_i H_i^T A                                  Kalman gain (P_i, m)
    w_i ← w_i + K_i (z − ẑ)
    P_i ← P_i − K_i H_i P_i + Q_i

One group holding every weight is the global EKF (Singhal & Wu 1989); one group per layer or per
neuron is the decoupled EKF (Puskorius & Feldkamp 1991; "MEKA", the multiple extended Kalman
algorithm of Shah, Palmieri & Datum 1992), which drops the covariances between groups and costs
Σ_i P_i² instead of P². For a model linear in w the EKF is exact recursive least squares.

A batch of N samples is one measurement of m = N·C outputs (the multi-stream EKF of Feldkamp &
Puskorius); a batch of one is the classical per-pattern filter.

Closure contract: ``step(closure)`` calls ``closure()`` with gradients enabled, and the closure
returns ``(outputs, targets)`` -- the network's outputs for the batch, still attached to the
autograd graph (do **not** call ``backward``), and the desired outputs of the same size. The
filter minimises the LMS error ½ Σ (z − ẑ)²; for classification let the outputs be
probabilities (sigmoid / softmax) with 0/1 or ±1 targets. ``step`` returns the LMS error
½ Σ_n Σ_i (z_i^n − ẑ_i^n)² / N before the update. A generic training loop can tell this kind of
optimizer apart by its class attribute ``closure_returns == "outputs_targets"``.

>>> import torch
>>> net = torch.nn.Linear(2, 1)
>>> opt = EKF(net.parameters(), p0=100.0, r=1.0)
>>> x, z = torch.randn(8, 2), torch.randn(8, 1)
>>> loss = opt.step(lambda: (net(x), z))
>>> loss.shape
torch.Size([])
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import Tensor
from torch.optim import Optimizer

from ..curvature import ParamLayout, output_jacobian
from ..errors import ConfigError, DataError

__all__ = ["EKF", "DecoupledEKF", "DECOUPLINGS"]

# how the weights are split into groups, each with its own covariance P_i
DECOUPLINGS = ("global", "layer", "neuron", "tensor")


def ekf_update(H: list[Tensor], P: list[Tensor], e: Tensor, R: Tensor, Q: list[Tensor]
               ) -> tuple[list[Tensor], list[Tensor]]:
    """One (decoupled) extended Kalman update; groups of equal size are stacked.

    Args:
        H: per stack, the Jacobian columns of its groups, (B, m, k) (B groups of k weights).
        P: per stack, the covariances, (B, k, k).
        e: the innovation z − ẑ, (m,).
        R: measurement noise covariance, (m, m).
        Q: per stack, the process noise diagonal, (B, k).

    Returns:
        ``(dw, P_new)``: per stack, the weight change (B, k) and the new covariances (B, k, k).
    """
    HP = [torch.bmm(h, p) for h, p in zip(H, P)]  # (B, m, k) = H_i P_i
    S = R.clone()  # (m, m)
    for h, hp in zip(H, HP):
        S = S + torch.einsum("bmk,bnk->mn", hp, h)  # Σ_i H_i P_i H_i^T
    A = torch.linalg.inv(S)  # (m, m)
    A = 0.5 * (A + A.T)
    dw, P_new = [], []
    for hp, p, q in zip(HP, P, Q):
        K = torch.einsum("bmk,mn->bkn", hp, A)  # (B, k, m) = P_i H_i^T A
        dw.append(torch.einsum("bkm,m->bk", K, e))  # (B, k)
        p = p - torch.bmm(K, hp) + torch.diag_embed(q)  # (B, k, k)
        P_new.append(0.5 * (p + p.transpose(1, 2)))
    return dw, P_new


class EKF(Optimizer):
    """Extended Kalman filter training (global EKF, or decoupled with ``decoupling=``).

    w ← w + K (z − ẑ),  K = P H^T (R + H P H^T)^{-1},  P ← P − K H P + Q,
    with H = ∂ẑ/∂w from :func:`deepnets.curvature.output_jacobian`, P(0) = p0·I, Q = q·I,
    R = r·I. See the module docstring for the closure contract.

    Args:
        params: parameters or parameter groups. ``p0`` and ``q`` may differ per group; ``r`` is
            read from the first group (the measurement is shared by all weights).
        p0: initial covariance P(0) = p0·I (large: little trust in the initial weights);
            default 100.
        q: process noise Q = q·I added to P after each update; keeps P from collapsing and acts
            as a forgetting factor; default 1e-4 (0 gives recursive least squares).
        r: measurement noise R = r·I; 1/r plays the role of the learning rate η of Puskorius &
            Feldkamp; default 1.
        decoupling: ``"global"`` (one covariance for all weights, Singhal & Wu 1989),
            ``"layer"`` (weight with its bias), ``"neuron"`` (each unit's incoming weights and
            bias) or ``"tensor"`` (each parameter tensor).

    References: Singhal & Wu 1989, "Training multilayer perceptrons with the extended Kalman
    algorithm"; Puskorius & Feldkamp 1991, "Decoupled extended Kalman filter training of
    feedforward layered networks"; Shah, Palmieri & Datum 1992, "Optimal filtering algorithms
    for fast learning in feedforward neural networks".
    """

    closure_returns = "outputs_targets"

    def __init__(self, params: Iterable, *, p0: float = 100.0, q: float = 1e-4, r: float = 1.0,
                 decoupling: str = "global"):
        if not p0 > 0:
            raise ConfigError(f"Invalid initial covariance p0: {p0} (expected > 0)")
        if not q >= 0:
            raise ConfigError(f"Invalid process noise q: {q} (expected >= 0)")
        if not r > 0:
            raise ConfigError(f"Invalid measurement noise r: {r} (expected > 0)")
        if decoupling not in DECOUPLINGS:
            raise ConfigError(f"unknown decoupling {decoupling!r}; expected one of {DECOUPLINGS}")
        super().__init__(params, dict(p0=p0, q=q, r=r))
        self.decoupling = decoupling
        self._stacks: list[Tensor] | None = None

    def add_param_group(self, param_group: dict) -> None:
        """As torch's; the weight groups are rebuilt and the covariances restart at p0·I."""
        super().add_param_group(param_group)
        self._stacks = None

    def _params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def _per_weight(self, key: str, ref: Tensor) -> Tensor:
        """The group setting ``key`` spread over the flat weight vector, (P,)."""
        return torch.cat([torch.full((p.numel(),), float(g[key]), dtype=ref.dtype,
                                     device=ref.device)
                          for g in self.param_groups for p in g["params"]])

    def _index_stacks(self) -> list[Tensor]:
        """Groups of equal size stacked: one (B, k) index tensor into the flat weights each."""
        if self._stacks is None:
            layout = ParamLayout.from_tensors(self._params())
            by_size: dict[int, list[Tensor]] = {}
            for b in layout.blocks(self.decoupling):
                by_size.setdefault(len(b), []).append(b)
            self._stacks = [torch.stack(bs) for bs in by_size.values()]  # (B, k) each
        return self._stacks

    @torch.no_grad()
    def step(self, closure: Callable[[], tuple[Tensor, Tensor]]) -> Tensor:  # type: ignore[override]
        """One Kalman update from the batch the closure measures; returns ½ Σ e² / N before it."""
        if closure is None:
            raise ConfigError("EKF.step needs a closure returning (outputs, targets)")
        params = self._params()
        with torch.enable_grad():
            got = closure()
            if not (isinstance(got, (tuple, list)) and len(got) == 2):
                raise ConfigError("the EKF closure must return (outputs, targets), got "
                                  f"{type(got).__name__}")
            outputs, targets = got
            if outputs.shape[0] != targets.shape[0] or outputs.numel() != targets.numel():
                raise DataError(f"outputs of shape {tuple(outputs.shape)} and targets of shape "
                                f"{tuple(targets.shape)} do not match")
            if not torch.isfinite(targets).all():
                raise DataError("targets contain NaN or inf")
            N = outputs.shape[0]
            H = output_jacobian(outputs, params).reshape(-1, sum(p.numel() for p in params))  # (m, P)
        e = (targets.reshape(-1).to(H.dtype) - outputs.detach().reshape(-1))  # (m,)
        stacks = [s.to(H.device) for s in self._index_stacks()]
        state = self.state[params[0]]
        if "P" not in state or [tuple(p.shape[:2]) for p in state["P"]] != \
                [(s.shape[0], s.shape[1]) for s in stacks]:
            p0 = self._per_weight("p0", H)  # (P,)
            state["P"] = [torch.diag_embed(p0[s]) for s in stacks]  # (B, k, k) each
            state["step"] = 0
        q = self._per_weight("q", H)  # (P,)
        r = float(self.param_groups[0]["r"])
        R = r * torch.eye(e.numel(), dtype=H.dtype, device=H.device)  # (m, m)
        Hs = [H[:, s].permute(1, 0, 2) for s in stacks]  # (m, B, k) -> (B, m, k)
        dw, state["P"] = ekf_update(Hs, state["P"], e, R, [q[s] for s in stacks])
        delta = torch.zeros_like(q)  # (P,)
        for s, d in zip(stacks, dw):
            delta[s.reshape(-1)] = d.reshape(-1)
        offset = 0
        for p in params:
            p.add_(delta[offset:offset + p.numel()].view_as(p))
            offset += p.numel()
        state["step"] += 1
        return 0.5 * (e * e).sum() / N


class DecoupledEKF(EKF):
    """Decoupled extended Kalman filter (MEKA): one covariance per neuron by default.

    The same update as :class:`EKF` with ``decoupling="neuron"`` (or ``"layer"``): the
    covariances between groups are dropped, so the cost per update falls from O(m P²) to
    O(m Σ_i P_i²).

    Reference: Puskorius & Feldkamp 1991; Shah, Palmieri & Datum 1992.
    """

    def __init__(self, params: Iterable, *, p0: float = 100.0, q: float = 1e-4, r: float = 1.0,
                 decoupling: str = "neuron"):
        super().__init__(params, p0=p0, q=q, r=r, decoupling=decoupling)
