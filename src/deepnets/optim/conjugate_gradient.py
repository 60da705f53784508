"""Nonlinear conjugate gradient: Polak-Ribiere+ (default) or Fletcher-Reeves, with restarts."""

from __future__ import annotations

from typing import Callable

import torch

from ._flat import LineSearchOptimizer
from .validation import check_line_search_options

__all__ = [
    "BETA_RULES",
    "ConjugateGradient",
    "beta_fletcher_reeves",
    "beta_polak_ribiere_plus",
    "cg_direction",
]


def beta_polak_ribiere_plus(g: torch.Tensor, g_prev: torch.Tensor) -> float:
    """Polak-Ribiere+ coefficient: beta = max(0, g_k^T (g_k - g_{k-1}) / (g_{k-1}^T g_{k-1})).

    Clipping at zero restarts along -g_k whenever the plain Polak-Ribiere beta would be negative
    (Powell 1986; Gilbert & Nocedal 1992).
    """
    return max(0.0, float(g.dot(g - g_prev) / g_prev.dot(g_prev)))


def beta_fletcher_reeves(g: torch.Tensor, g_prev: torch.Tensor) -> float:
    """Fletcher-Reeves coefficient: beta = g_k^T g_k / (g_{k-1}^T g_{k-1}) (Fletcher & Reeves 1964)."""
    return float(g.dot(g) / g_prev.dot(g_prev))


BETA_RULES: dict[str, Callable[[torch.Tensor, torch.Tensor], float]] = {
    "polak_ribiere": beta_polak_ribiere_plus,
    "fletcher_reeves": beta_fletcher_reeves,
}


def cg_direction(g: torch.Tensor, d_prev: torch.Tensor, beta: float) -> torch.Tensor:
    """The conjugate direction d_k = -g_k + beta_k d_{k-1}."""
    return -g + beta * d_prev


class ConjugateGradient(LineSearchOptimizer):
    """Nonlinear conjugate gradient with a strong-Wolfe line search; call ``step(closure)``.

    With g_k = dE/dw at w_k,

        d_0 = -g_0,        d_k = -g_k + beta_k d_{k-1}
        beta_k = max(0, g_k^T (g_k - g_{k-1}) / ||g_{k-1}||^2)      (Polak-Ribiere+, default)
        beta_k = ||g_k||^2 / ||g_{k-1}||^2                           (Fletcher-Reeves)
        w_{k+1} = w_k + alpha_k d_k,   alpha_k from a strong-Wolfe line search

    restarting with d_k = -g_k every ``restart`` iterations (default n, the number of weights)
    and whenever d_k is not a descent direction. On a convex quadratic with exact line searches
    it ends in at most n iterations; a small ``c2`` makes the search close to exact.

    Like :class:`torch.optim.LBFGS`, one ``step(closure)`` runs up to ``max_iter`` iterations; the
    closure zeroes the gradients, computes the loss, calls ``backward()`` and returns the loss.
    Only one parameter group is allowed. Second-order methods want the full batch or large
    batches (the lecture suggests ~10,000 samples).

    Args:
        params: parameters to optimise.
        lr: scales the first trial step of the very first line search (default 1.0).
        beta: ``"polak_ribiere"`` (PR+, default) or ``"fletcher_reeves"``.
        max_iter: iterations per ``step`` call (default 20).
        max_eval: closure evaluations per ``step`` call before stopping (default None: no limit).
        restart: restart period in iterations (default None: the number of weights n).
        tolerance_grad: stop when max |g_i| <= this (default 1e-7).
        tolerance_change: stop when the step or the change in E is <= this (default 1e-9).
        c1, c2: strong Wolfe constants (defaults 1e-4 and 0.1).
        max_ls: evaluations per line search (default 25).

    References: Fletcher & Reeves (1964), Computer Journal 7:149; Polak & Ribiere (1969);
    Powell (1977), Math. Programming 12:241 (restarts); Nocedal & Wright (2006), ch. 5.

    >>> x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    >>> opt = ConjugateGradient([x], c2=1e-3)
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = (x[0] - 1) ** 2 + 4 * (x[1] + 2) ** 2
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure)
    >>> [round(v, 8) for v in x.tolist()]
    [1.0, -2.0]
    """

    def __init__(
        self,
        params,
        lr: float = 1.0,
        *,
        beta: str = "polak_ribiere",
        max_iter: int = 20,
        max_eval: int | None = None,
        restart: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        c1: float = 1e-4,
        c2: float = 0.1,
        max_ls: int = 25,
    ):
        if beta not in BETA_RULES:
            raise ValueError(f"Invalid beta rule: {beta!r}; expected one of {sorted(BETA_RULES)}")
        defaults = dict(
            lr=lr, beta=beta, max_iter=max_iter, max_eval=max_eval, restart=restart,
            tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
            c1=c1, c2=c2, max_ls=max_ls,
        )
        check_line_search_options(defaults)
        super().__init__(params, defaults)

    def _direction(self, g, g_prev, d_prev, t_prev):
        beta = BETA_RULES[self.param_groups[0]["beta"]](g, g_prev)
        return cg_direction(g, d_prev, beta)
