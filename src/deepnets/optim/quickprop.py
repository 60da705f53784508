"""Quickprop (Fahlman 1988): a per-weight secant (parabola) step with a growth limit."""

from __future__ import annotations

import torch
from torch.optim import Optimizer

from .validation import check_positive

__all__ = ["Quickprop", "quickprop_step"]


def quickprop_step(
    S: torch.Tensor, S_prev: torch.Tensor, step_prev: torch.Tensor, *, lr: float, mu: float
) -> torch.Tensor:
    """The quickprop weight change Delta w(t) for every weight, from slopes S = dE/dw.

    Each weight is treated alone: a parabola through the last two slopes puts the minimum at

        Delta w(t) = S(t) / (S(t-1) - S(t)) * Delta w(t-1)               (secant step)

    with Fahlman's safeguards, written along sigma = sign(Delta w(t-1)):

    - Delta w(t-1) = 0 (first step, or a weight that did not move): gradient step
      Delta w(t) = -lr S(t), since the secant step would be zero forever;
    - sigma S(t) <= mu/(1+mu) * sigma S(t-1) (the slope did not shrink enough, or grew, so the
      secant step would exceed mu times the last step or point backwards): Delta w(t) = mu Delta w(t-1);
    - the gradient term -lr S(t) is added while the slope still points the way of the last
      step (sigma S(t) < 0); once the slope has changed sign the secant step is used alone.

    Args:
        S: dE/dw now.
        S_prev: dE/dw at the previous step.
        step_prev: the previous weight change Delta w(t-1).
        lr: epsilon, the gradient-step size.
        mu: maximum growth factor (Fahlman: 1.75).

    Returns:
        Delta w(t), same shape as S.

    Reference: Fahlman (1988), "An empirical study of learning speed in back-propagation
    networks", CMU-CS-88-162; Fahlman (1988), Proc. Connectionist Models Summer School.
    """
    sigma = torch.sign(step_prev)
    slope, slope_prev = sigma * S, sigma * S_prev  # slopes along the direction of the last step
    capped = (slope <= (mu / (1.0 + mu)) * slope_prev) | (S == S_prev)
    denominator = torch.where(capped, torch.ones_like(S), S_prev - S)
    secant = torch.where(capped, mu * step_prev, S / denominator * step_prev)
    gradient_term = torch.where(slope < 0, -lr * S, torch.zeros_like(S))
    return torch.where(sigma == 0, -lr * S, secant + gradient_term)


class Quickprop(Optimizer):
    """Fahlman's quickprop: per-weight secant steps limited by the growth factor mu.

    See :func:`quickprop_step` for the rule. Meant for full-batch (epoch) training, as in
    Fahlman's experiments; the previous slope and step are saved by ``state_dict()``.

    Args:
        params: parameters or parameter groups.
        lr: epsilon, the size of the gradient steps and gradient terms (default 0.01).
        mu: maximum growth factor of a step over the previous one (default 1.75).

    Reference: Fahlman (1988), CMU-CS-88-162.

    >>> w = torch.tensor([3.0], requires_grad=True)
    >>> opt = Quickprop([w], lr=0.25, mu=1.75)
    >>> for _ in range(2):
    ...     opt.zero_grad(); (w ** 2).sum().backward(); _ = opt.step()
    >>> w  # gradient step to 1.5, then the secant lands on the minimum 0 plus the gradient term -0.75
    tensor([-0.7500], requires_grad=True)
    """

    def __init__(self, params, lr: float = 0.01, *, mu: float = 1.75):
        check_positive("learning rate", lr)
        check_positive("mu", mu)
        super().__init__(params, dict(lr=lr, mu=mu))

    @torch.no_grad()
    def step(self, closure=None):
        """One update from the gradients in ``.grad``; the closure, if given, computes them first."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("Quickprop does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["prev_grad"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["prev_step"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                step = quickprop_step(
                    p.grad, state["prev_grad"], state["prev_step"], lr=group["lr"], mu=group["mu"]
                )
                p.add_(step)
                state["prev_grad"].copy_(p.grad)
                state["prev_step"].copy_(step)
        return loss
