"""Delta-bar-delta (Jacobs 1988): a learning rate per weight, adapted by gradient sign agreement."""

from __future__ import annotations

import torch
from torch.optim import Optimizer

from .validation import check_nonnegative, check_positive, check_unit_interval

__all__ = ["DeltaBarDelta", "delta_bar_delta"]


def delta_bar_delta(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    etas: list[torch.Tensor],
    delta_bars: list[torch.Tensor],
    momentum_buffers: list[torch.Tensor | None],
    *,
    kappa: float,
    phi: float,
    theta: float,
    momentum: float,
) -> None:
    """One delta-bar-delta update, in place, for every weight w with gradient delta = dE/dw.

        Delta eta(t) = kappa            if delta_bar(t-1) delta(t) > 0
                     = -phi eta(t)      if delta_bar(t-1) delta(t) < 0
                     = 0                otherwise
        eta(t+1)       = eta(t) + Delta eta(t)
        delta_bar(t)   = (1 - theta) delta(t) + theta delta_bar(t-1)
        Delta w(t)     = -eta(t+1) delta(t) + momentum Delta w(t-1)
        w(t+1)         = w(t) + Delta w(t)

    The additive increase lets eta grow slowly along consistent slopes; the multiplicative
    decrease shrinks it fast when the slope keeps changing sign (oscillation across a valley).

    Reference: Jacobs (1988), "Increased rates of convergence through learning rate
    adaptation", Neural Networks 1(4):295-307.
    """
    for w, delta, eta, delta_bar, buf in zip(params, grads, etas, delta_bars, momentum_buffers):
        agreement = delta_bar * delta  # delta_bar(t-1) delta(t), same shape as w
        eta.add_(agreement.gt(0).to(eta.dtype), alpha=kappa)
        eta.copy_(torch.where(agreement < 0, eta * (1.0 - phi), eta))
        delta_bar.mul_(theta).add_(delta, alpha=1.0 - theta)
        step = -eta * delta
        if buf is not None:
            buf.mul_(momentum).add_(step)
            step = buf
        w.add_(step)


class DeltaBarDelta(Optimizer):
    """Jacobs's delta-bar-delta: each weight has its own learning rate eta_ij.

    See :func:`delta_bar_delta` for the update rule. Works per mini-batch or full batch; the
    state (eta, delta_bar and the momentum buffer) is saved by ``state_dict()``.

    Args:
        params: parameters or parameter groups.
        lr: initial learning rate eta(0) of every weight (default 0.01).
        kappa: additive increase of eta on sign agreement (default 1e-3).
        phi: fractional decrease of eta on sign disagreement, 0 <= phi < 1 (default 0.1).
        theta: weight of the past in the exponential average delta_bar, 0 <= theta < 1
            (default 0.7).
        momentum: momentum on the weight change, 0 <= momentum < 1 (default 0: Jacobs's
            simulations also report runs with momentum).

    Reference: Jacobs (1988), Neural Networks 1(4):295-307.

    >>> w = torch.tensor([1.0], requires_grad=True)
    >>> opt = DeltaBarDelta([w], lr=0.1, kappa=0.05)
    >>> for _ in range(2):
    ...     opt.zero_grad(); (w ** 2).sum().backward(); _ = opt.step()
    >>> opt.state[w]["eta"]   # grew by kappa once: delta_bar(0) = 0, then signs agreed
    tensor([0.1500])
    """

    def __init__(
        self,
        params,
        lr: float = 0.01,
        *,
        kappa: float = 1e-3,
        phi: float = 0.1,
        theta: float = 0.7,
        momentum: float = 0.0,
    ):
        check_positive("learning rate", lr)
        check_nonnegative("kappa", kappa)
        check_unit_interval("phi", phi)
        check_unit_interval("theta", theta)
        check_unit_interval("momentum", momentum)
        defaults = dict(lr=lr, kappa=kappa, phi=phi, theta=theta, momentum=momentum)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """One update from the gradients in ``.grad``; the closure, if given, computes them first."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads, etas, delta_bars, bufs = [], [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("DeltaBarDelta does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["eta"] = torch.full_like(p, group["lr"], memory_format=torch.preserve_format)
                    state["delta_bar"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    if group["momentum"] > 0:
                        state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                params.append(p)
                grads.append(p.grad)
                etas.append(state["eta"])
                delta_bars.append(state["delta_bar"])
                bufs.append(state.get("momentum_buffer"))
            delta_bar_delta(
                params, grads, etas, delta_bars, bufs,
                kappa=group["kappa"], phi=group["phi"], theta=group["theta"],
                momentum=group["momentum"],
            )
        return loss
