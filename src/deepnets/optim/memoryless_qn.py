"""Memoryless quasi-Newton (Shanno 1978): one BFGS update of a scaled identity per iteration."""

from __future__ import annotations

import torch

from ._flat import LineSearchOptimizer
from .validation import check_line_search_options

__all__ = ["MemorylessQuasiNewton", "memoryless_bfgs_direction"]


def memoryless_bfgs_direction(
    g: torch.Tensor, s: torch.Tensor, y: torch.Tensor, *, scale: bool = True
) -> torch.Tensor:
    """The direction d = -H g, H the BFGS update of gamma*I by the last pair (s, y).

        H = (I - rho s y^T) gamma I (I - rho y s^T) + rho s s^T,   rho = 1 / (y^T s)
        d = -gamma g + gamma rho (s^T g) y
            + [gamma rho (y^T g) - rho (s^T g) (1 + gamma rho y^T y)] s

    with s = w_k - w_{k-1}, y = g_k - g_{k-1}, and gamma = s^T y / y^T y (Shanno's self-scaling)
    or gamma = 1 (``scale=False``). With exact line searches s^T g = 0 and d is the
    Hestenes-Stiefel conjugate direction; nothing but s and y is stored.

    Args:
        g: gradient at the current point, (n,).
        s: last step, (n,).
        y: last change of gradient, (n,); needs y^T s > 0.
        scale: use Shanno's gamma (default True).

    Reference: Shanno (1978), "Conjugate gradient methods with inexact searches",
    Math. Oper. Res. 3(3):244-256; Nocedal & Wright (2006), sec. 7.2.
    """
    ys = y.dot(s)
    rho = 1.0 / ys
    gamma = ys / y.dot(y) if scale else torch.ones((), dtype=g.dtype, device=g.device)
    sg, yg = s.dot(g), y.dot(g)
    coeff_s = gamma * rho * yg - rho * sg * (1.0 + gamma * rho * y.dot(y))
    return -gamma * g + (gamma * rho * sg) * y + coeff_s * s  # (n,)


class MemorylessQuasiNewton(LineSearchOptimizer):
    """Memoryless BFGS with a strong-Wolfe line search; call ``step(closure)``.

    With g_k = dE/dw at w_k, s = alpha_{k-1} d_{k-1} and y = g_k - g_{k-1},

        d_k = -H_k g_k,   H_k = BFGS update of gamma_k I by (s, y)   (see memoryless_bfgs_direction)
        w_{k+1} = w_k + alpha_k d_k,   alpha_k from a strong-Wolfe line search, first trial 1

    restarting with d_k = -g_k every ``restart`` iterations (default n), when y^T s <= 0, and when
    d_k is not a descent direction. It stores two vectors, like conjugate gradient, and takes
    quasi-Newton-sized steps. Only one parameter group; use full or large batches.

    Args:
        params: parameters to optimise.
        lr: scales the first trial step after a restart along -g (default 1.0).
        scale: Shanno's self-scaling gamma = s^T y / y^T y (default True).
        max_iter: iterations per ``step`` call (default 20).
        max_eval: closure evaluations per ``step`` call before stopping (default None: no limit).
        restart: restart period in iterations (default None: the number of weights n).
        tolerance_grad: stop when max |g_i| <= this (default 1e-7).
        tolerance_change: stop when the step or the change in E is <= this (default 1e-9).
        c1, c2: strong Wolfe constants (defaults 1e-4 and 0.9).
        max_ls: evaluations per line search (default 25).

    Reference: Shanno (1978), Math. Oper. Res. 3(3):244-256.

    >>> x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    >>> opt = MemorylessQuasiNewton([x], max_iter=50)
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = (x[0] - 1) ** 2 + 4 * (x[1] + 2) ** 2
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure)
    >>> [round(v, 6) for v in x.tolist()]
    [1.0, -2.0]
    """

    def __init__(
        self,
        params,
        lr: float = 1.0,
        *,
        scale: bool = True,
        max_iter: int = 20,
        max_eval: int | None = None,
        restart: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        c1: float = 1e-4,
        c2: float = 0.9,
        max_ls: int = 25,
    ):
        defaults = dict(
            lr=lr, scale=bool(scale), max_iter=max_iter, max_eval=max_eval, restart=restart,
            tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
            c1=c1, c2=c2, max_ls=max_ls,
        )
        check_line_search_options(defaults)
        super().__init__(params, defaults)

    def _direction(self, g, g_prev, d_prev, t_prev):
        s = t_prev * d_prev  # (n,)
        y = g - g_prev  # (n,)
        ys = float(y.dot(s))
        if not ys > 1e-12 * float(y.norm() * s.norm()):
            return None  # no positive curvature along s: restart
        return memoryless_bfgs_direction(g, s, y, scale=self.param_groups[0]["scale"])

    def _first_trial(self, t_prev, gd_prev, gd, restarted, g) -> float:
        if restarted:
            return super()._first_trial(t_prev, gd_prev, gd, restarted, g)
        return 1.0
