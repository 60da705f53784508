"""Shared plumbing of the closure-driven optimizers: the weights seen as one flat vector w.

Conjugate gradient, scaled conjugate gradient and memoryless quasi-Newton work on w in R^n and
on g = grad E(w) in R^n. This base class gathers the parameters of a single parameter group into
that view, evaluates the closure at a chosen w, and keeps all state under the first parameter, so
that :meth:`torch.optim.Optimizer.state_dict` saves it (as torch.optim.LBFGS does).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch.optim import Optimizer

from .line_search import strong_wolfe

__all__ = ["FlatClosureOptimizer", "LineSearchOptimizer", "loss_value"]


def loss_value(loss) -> float:
    """The closure's loss as a Python float (detached first, so autograd does not warn)."""
    return float(loss.detach()) if torch.is_tensor(loss) else float(loss)


class FlatClosureOptimizer(Optimizer):
    """Base class for optimizers that need ``step(closure)`` and see the weights as one vector.

    Only one parameter group is allowed: the maths couples every weight.
    """

    def __init__(self, params, defaults: dict):
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(
                f"{type(self).__name__} doesn't support per-parameter options "
                f"(got {len(self.param_groups)} parameter groups, expected 1)"
            )
        self._params: list[torch.Tensor] = self.param_groups[0]["params"]

    @property
    def _state(self) -> dict:
        return self.state[self._params[0]]

    def _numel(self) -> int:
        return sum(p.numel() for p in self._params)

    def _flat_params(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self._params])  # (n,)

    def _flat_grad(self) -> torch.Tensor:
        parts = [
            torch.zeros(p.numel(), dtype=p.dtype, device=p.device) if p.grad is None
            else p.grad.detach().reshape(-1)
            for p in self._params
        ]
        return torch.cat(parts)  # (n,)

    def _set_flat(self, w: torch.Tensor) -> None:
        offset = 0
        for p in self._params:
            n = p.numel()
            p.copy_(w[offset:offset + n].view_as(p))  # (n_p,) -> p.shape
            offset += n

    def _evaluate(self, closure: Callable, w: torch.Tensor | None = None) -> tuple[float, torch.Tensor]:
        """E and grad E at w (at the current weights if w is None); the weights stay at w."""
        if w is not None:
            self._set_flat(w)
        with torch.enable_grad():
            loss = closure()
        return loss_value(loss), self._flat_grad().clone()

    def _line_function(self, closure: Callable, w0: torch.Tensor, d: torch.Tensor):
        """phi(alpha) = E(w0 + alpha d) with slope g^T d and the gradient as payload."""

        def phi(alpha: float):
            f, g = self._evaluate(closure, w0 + alpha * d)
            return f, float(g.dot(d)), g

        return phi


class LineSearchOptimizer(FlatClosureOptimizer):
    """The loop shared by line-search methods: pick a descent direction d, search along it.

    One :meth:`step` runs up to ``max_iter`` iterations of

        d_k = direction(g_k, g_{k-1}, d_{k-1}, alpha_{k-1})     (steepest descent -g_k on restart)
        alpha_k = strong-Wolfe line search of E(w_k + alpha d_k)
        w_{k+1} = w_k + alpha_k d_k

    restarting with d_k = -g_k every ``restart`` iterations, when the direction is not a descent
    direction (g_k^T d_k >= 0), or when the line search finds no decrease. The state (previous
    direction, gradient and step) survives between calls, so repeated ``step(closure)`` calls
    continue one run. Subclasses give the direction and the first trial step.
    """

    def _direction(self, g, g_prev, d_prev, t_prev):  # pragma: no cover - abstract
        raise NotImplementedError

    def _first_trial(self, t_prev, gd_prev, gd, restarted: bool, g) -> float:
        """The line search's first trial step (Nocedal & Wright 2006, eq. 3.60)."""
        if t_prev is None:
            return self.param_groups[0]["lr"] * min(1.0, 1.0 / float(g.abs().sum()))
        return t_prev * gd_prev / gd

    @torch.no_grad()
    def step(self, closure=None):
        """Run up to ``max_iter`` iterations; returns the loss at the weights the call began at."""
        if closure is None:
            raise ValueError(
                f"{type(self).__name__} requires a closure that re-evaluates the loss and its gradient"
            )
        group = self.param_groups[0]
        state = self._state
        state.setdefault("n_iter", 0)
        state.setdefault("func_evals", 0)
        state.setdefault("since_restart", 0)
        restart = group["restart"] or self._numel()

        with torch.enable_grad():
            orig_loss = closure()
        f, g = loss_value(orig_loss), self._flat_grad().clone()
        evals = 1
        d_prev, g_prev = state.get("d"), state.get("g_prev")
        t_prev, gd_prev = state.get("t"), state.get("gd")

        for _ in range(group["max_iter"]):
            if not float(g.abs().max()) > group["tolerance_grad"]:
                break
            state["n_iter"] += 1
            d = None
            if d_prev is not None and state["since_restart"] < restart:
                d = self._direction(g, g_prev, d_prev, t_prev)
                if d is not None and not float(g.dot(d)) < 0.0:
                    d = None  # not a descent direction
            restarted = d is None
            if restarted:
                d = -g
                state["since_restart"] = 0
            gd = float(g.dot(d))
            t0 = self._first_trial(t_prev, gd_prev, gd, restarted, g)
            w0 = self._flat_params()
            result = strong_wolfe(
                self._line_function(closure, w0, d), f, gd, t0,
                c1=group["c1"], c2=group["c2"], max_evals=group["max_ls"], payload0=g,
            )
            evals += result.n_evals
            state["since_restart"] += 1
            if result.alpha == 0.0:
                self._set_flat(w0)
                if restarted:
                    break  # no decrease even along -g
                d_prev = None  # restart on the next iteration
                continue
            self._set_flat(w0 + result.alpha * d)
            step_size = result.alpha * float(d.abs().max())
            f_change = abs(result.f - f)
            g_prev, d_prev, t_prev, gd_prev = g, d, result.alpha, gd
            f, g = result.f, result.payload
            if step_size <= group["tolerance_change"] or f_change <= group["tolerance_change"]:
                break
            if group["max_eval"] is not None and evals >= group["max_eval"]:
                break

        state["func_evals"] += evals
        if d_prev is not None:
            state.update(d=d_prev, g_prev=g_prev, t=t_prev, gd=gd_prev)
        else:
            for key in ("d", "g_prev", "t", "gd"):
                state.pop(key, None)
        return orig_loss
