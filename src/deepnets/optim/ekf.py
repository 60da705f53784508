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

The update itself is :func:`deepnets.optim.kalman_update.ekf_update`: each P_i is held as the
upper triangle of a buffer, in bands of rows, less the downdate of the last update, deferred to
the next update's single pass over P_i (instead of two passes, for a P_i beyond the cache);
:meth:`EKF.covariances` gives the P_i whole.

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

from ..curvature import ParamLayout
from ..errors import ConfigError
from ._measure import measure, measurement_jacobian
from .kalman_update import band_rows, covariance, ekf_update, symmetrise_, symmetrise_blocks_

__all__ = ["EKF", "DecoupledEKF", "DECOUPLINGS", "ekf_update", "symmetrise_"]

# how the weights are split into groups, each with its own covariance P_i
DECOUPLINGS = ("global", "layer", "neuron", "tensor")
#: the diagonal blocks of P are made exactly symmetric again every this many updates (rounding
#: makes them drift; the blocks above them are stored once)
SYMMETRISE_EVERY = 16


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
        chunk: samples per measurement update of the global filter (their Jacobian,
            innovation covariance and gain are built for ``chunk`` samples at a time, bounding
            the memory whatever the batch size); None takes the whole batch at once. The result
            is the same. A decoupled filter always takes the whole batch. Default 64.

    References: Singhal & Wu 1989, "Training multilayer perceptrons with the extended Kalman
    algorithm"; Puskorius & Feldkamp 1991, "Decoupled extended Kalman filter training of
    feedforward layered networks"; Shah, Palmieri & Datum 1992, "Optimal filtering algorithms
    for fast learning in feedforward neural networks".
    """

    closure_returns = "outputs_targets"

    def __init__(self, params: Iterable, *, p0: float = 100.0, q: float = 1e-4, r: float = 1.0,
                 decoupling: str = "global", chunk: int | None = 64):
        if not p0 > 0:
            raise ConfigError(f"Invalid initial covariance p0: {p0} (expected > 0)")
        if not q >= 0:
            raise ConfigError(f"Invalid process noise q: {q} (expected >= 0)")
        if not r > 0:
            raise ConfigError(f"Invalid measurement noise r: {r} (expected > 0)")
        if decoupling not in DECOUPLINGS:
            raise ConfigError(f"unknown decoupling {decoupling!r}; expected one of {DECOUPLINGS}")
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
            raise ConfigError(f"Invalid chunk: {chunk!r} (expected a number of samples >= 1, or None)")
        super().__init__(params, dict(p0=p0, q=q, r=r))
        self.decoupling, self.chunk = decoupling, chunk
        self._stacks: list[Tensor] | None = None

    def add_param_group(self, param_group: dict) -> None:
        """As torch's; the weight groups are rebuilt and the covariances restart at p0·I."""
        super().add_param_group(param_group)
        self._stacks = None

    def load_state_dict(self, state_dict: dict) -> None:
        """As torch's, with the covariances copied: they are updated in place, and torch would
        otherwise share them with the optimizer the state dict came from."""
        super().load_state_dict(state_dict)
        for st in self.state.values():
            if "P" in st:
                st["P"] = [p.clone() for p in st["P"]]

    def covariances(self) -> list[Tensor]:
        """The covariances P_i as they stand, whole, per stack of equal-sized groups (B, k, k);
        new tensors. (The state holds each as a buffer whose upper triangle counts, less a
        deferred downdate U Uᵀ: see :mod:`deepnets.optim.kalman_update`.)"""
        state = self.state[self._params()[0]]
        if "P" not in state:
            raise RuntimeError("the EKF has taken no step yet: its covariances are p0·I")
        return [covariance(p, u) for p, u in zip(state["P"], state.get("U") or [None] * len(state["P"]))]

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

    def _covariances(self, ref: Tensor, stacks: list[Tensor]) -> list[Tensor]:
        """The covariances P_i kept in the state (P(0) = p0·I on the first step), (B, k, k) each."""
        state = self.state[self._params()[0]]
        if "P" not in state or [tuple(p.shape[:2]) for p in state["P"]] != [tuple(s.shape) for s in stacks]:
            p0 = self._per_weight("p0", ref)  # (P,)
            state["P"] = [torch.diag_embed(p0[s]) for s in stacks]  # (B, k, k) each
            state["U"] = None  # no downdate deferred yet
            state["step"] = 0
        return state["P"]

    @torch.no_grad()
    def step(self, closure: Callable[[], tuple[Tensor, Tensor]]) -> Tensor:  # type: ignore[override]
        """One Kalman update from the batch the closure measures; returns ½ Σ e² / N before it.

        With one covariance for all weights (the global filter), the batch's samples are taken
        ``chunk`` at a time as successive measurements, each linearised at the same weights
        (innovation z_c − ẑ_c − H_c Δw so far) with Q added once at the end: for R = r I this is
        the same update as the whole batch at once. A decoupled filter takes the whole batch at
        once: dropping the covariances between groups after each chunk would change its update.
        """
        params = self._params()
        with torch.enable_grad():
            outputs, targets = measure(closure, "EKF")
            N = outputs.shape[0]
            e_all = targets.reshape(N, -1).to(outputs.dtype) - outputs.detach().reshape(N, -1)  # (N, C)
            stacks = [s.to(outputs.device) for s in self._index_stacks()]
            P = self._covariances(outputs.detach(), stacks)
            q = self._per_weight("q", e_all)  # (P,)
            r = float(self.param_groups[0]["r"])
            delta = torch.zeros_like(q)  # (P,) the weight change so far
            one_group = len(stacks) == 1 and stacks[0].shape[0] == 1
            chunk = self.chunk if self.chunk is not None and one_group else N
            state = self.state[params[0]]
            for a in range(0, N, chunk):
                H = measurement_jacobian(outputs, params, a, a + chunk)  # (m_c, P)
                e = e_all[a:a + chunk].reshape(-1) - H @ delta  # (m_c,) innovation at w + Δw
                last = a + chunk >= N
                dw, state["U"] = ekf_update([H[:, s].transpose(0, 1) for s in stacks], P, e, r,
                                            [q[s] for s in stacks] if last else None, state.get("U"))
                for s, d in zip(stacks, dw):
                    delta[s.reshape(-1)] += d.reshape(-1)
        state["step"] += 1
        if state["step"] % SYMMETRISE_EVERY == 0:
            for p in P:
                symmetrise_blocks_(p, band_rows(p.shape[-1], p.element_size()))
        offset = 0
        for p in params:
            p.add_(delta[offset:offset + p.numel()].view_as(p))
            offset += p.numel()
        return 0.5 * (e_all * e_all).sum() / N


class DecoupledEKF(EKF):
    """Decoupled extended Kalman filter (MEKA): one covariance per neuron by default.

    The same update as :class:`EKF` with ``decoupling="neuron"`` (or ``"layer"``): the
    covariances between groups are dropped, so the cost per update falls from O(m P²) to
    O(m Σ_i P_i²).

    Reference: Puskorius & Feldkamp 1991; Shah, Palmieri & Datum 1992.
    """

    def __init__(self, params: Iterable, *, p0: float = 100.0, q: float = 1e-4, r: float = 1.0,
                 decoupling: str = "neuron", chunk: int | None = 64):
        super().__init__(params, p0=p0, q=q, r=r, decoupling=decoupling, chunk=chunk)
