"""Scaled conjugate gradient (Moller 1993): conjugate directions, no line search."""

from __future__ import annotations

import torch

from ._flat import FlatClosureOptimizer, loss_value
from .validation import check_nonnegative, check_positive

__all__ = ["ScaledConjugateGradient", "scg_make_positive", "scg_comparison", "scg_adapt_lambda"]


def scg_make_positive(delta: float, lam: float, p_norm2: float) -> tuple[float, float, float]:
    """Moller's step 4: raise lambda until the scaled curvature delta = p^T (H + lam I) p is > 0.

        if delta <= 0:  lam_bar = 2 (lam - delta / |p|^2);  delta = -delta + lam |p|^2;  lam = lam_bar

    Returns (delta, lam, lam_bar); lam_bar is the old lam when delta was already positive.
    """
    if delta > 0.0:
        return delta, lam, lam
    lam_bar = 2.0 * (lam - delta / p_norm2)
    return -delta + lam * p_norm2, lam_bar, lam_bar


def scg_comparison(delta: float, mu: float, f: float, f_new: float) -> float:
    """Moller's comparison parameter Delta = 2 delta (E(w) - E(w + alpha p)) / mu^2.

    Delta measures how well the local quadratic E(w) - mu alpha + delta alpha^2 / 2 predicted the
    actual decrease: Delta = 1 when it is exact, Delta < 0 when the error went up.
    """
    return 2.0 * delta * (f - f_new) / (mu * mu)


def scg_adapt_lambda(lam: float, Delta: float, delta: float, p_norm2: float) -> float:
    """Moller's steps 7-8, the trust-region-like update of the scale lambda.

        Delta >= 0.75:  lam = lam / 4
        Delta <  0.25:  lam = lam + delta (1 - Delta) / |p|^2
    """
    if Delta >= 0.75:
        lam = lam / 4.0
    if Delta < 0.25:
        lam = lam + delta * (1.0 - Delta) / p_norm2
    return lam


class ScaledConjugateGradient(FlatClosureOptimizer):
    """Moller's scaled conjugate gradient; call ``step(closure)``.

    With r_k = -dE/dw at w_k and a search direction p_k (p_1 = r_1):

        sigma_k = sigma / |p_k|,   s_k = (E'(w_k + sigma_k p_k) - E'(w_k)) / sigma_k   (~ H p_k)
        delta_k = p_k^T s_k + (lam_k - lam_bar_k) |p_k|^2          (made > 0 by raising lam)
        mu_k = p_k^T r_k,   alpha_k = mu_k / delta_k
        Delta_k = 2 delta_k (E(w_k) - E(w_k + alpha_k p_k)) / mu_k^2
        if Delta_k >= 0:  w_{k+1} = w_k + alpha_k p_k,  r_{k+1} = -E'(w_{k+1}),
                          p_{k+1} = r_{k+1} + beta_k p_k,  beta_k = (|r_{k+1}|^2 - r_{k+1}^T r_k) / mu_k
                          (p_{k+1} = r_{k+1} every ``restart`` iterations)
        lam_k adapted from Delta_k (see scg_adapt_lambda)

    The Levenberg-Marquardt-like scale lam replaces the line search: each iteration costs two
    gradient evaluations (one when the previous step was rejected). As a safeguard not in the
    paper, p is reset to r when p^T r <= 0. One ``step`` runs up to ``max_iter`` iterations; state
    survives between calls. Only one parameter group; use full or large batches.

    Args:
        params: parameters to optimise.
        sigma: finite-difference scale for the Hessian-vector product (default 1e-4; Moller
            asks for 0 < sigma <= 1e-4).
        lambd: initial scale lambda_1 (default 1e-6; Moller asks for 0 < lambda_1 <= 1e-6).
        max_iter: iterations per ``step`` call (default 20).
        restart: restart period in iterations (default None: the number of weights n).
        tolerance_grad: stop when max |r_i| <= this (default 1e-7).

    Reference: Moller (1993), "A scaled conjugate gradient algorithm for fast supervised
    learning", Neural Networks 6(4):525-533.

    >>> x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    >>> opt = ScaledConjugateGradient([x], max_iter=50)
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
        *,
        sigma: float = 1e-4,
        lambd: float = 1e-6,
        max_iter: int = 20,
        restart: int | None = None,
        tolerance_grad: float = 1e-7,
    ):
        check_positive("sigma", sigma)
        check_positive("lambd", lambd)
        check_nonnegative("tolerance_grad", tolerance_grad)
        if not (isinstance(max_iter, int) and max_iter >= 1):
            raise ValueError(f"Invalid max_iter: {max_iter}")
        if restart is not None and not (isinstance(restart, int) and restart >= 1):
            raise ValueError(f"Invalid restart period: {restart}")
        defaults = dict(
            sigma=sigma, lambd=lambd, max_iter=max_iter, restart=restart,
            tolerance_grad=tolerance_grad,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """Run up to ``max_iter`` SCG iterations; returns the loss at the weights the call began at."""
        if closure is None:
            raise ValueError("ScaledConjugateGradient requires a closure that re-evaluates the loss and its gradient")
        group = self.param_groups[0]
        state = self._state
        restart = group["restart"] or self._numel()

        with torch.enable_grad():
            orig_loss = closure()
        f, r = loss_value(orig_loss), -self._flat_grad()
        evals = 1
        w = self._flat_params()
        p = state.get("p")
        if p is None:
            p = r.clone()
            state.update(lam=group["lambd"], lam_bar=0.0, success=True, delta=0.0, n_iter=0, func_evals=0)
        lam, lam_bar, success, delta = state["lam"], state["lam_bar"], state["success"], state["delta"]

        for _ in range(group["max_iter"]):
            if not float(r.abs().max()) > group["tolerance_grad"]:
                break
            state["n_iter"] += 1
            mu = float(p.dot(r))
            if not mu > 0.0:
                p, success, lam_bar = r.clone(), True, 0.0  # safeguard: p is not a descent direction
                mu = float(p.dot(r))
            p_norm2 = float(p.dot(p))
            if success:
                sigma_k = group["sigma"] / p_norm2 ** 0.5
                _, g_sigma = self._evaluate(closure, w + sigma_k * p)
                evals += 1
                s = (g_sigma + r) / sigma_k  # (n,): (E'(w + sigma_k p) - E'(w)) / sigma_k
                delta = float(p.dot(s))
            delta = delta + (lam - lam_bar) * p_norm2
            delta, lam, lam_bar = scg_make_positive(delta, lam, p_norm2)
            alpha = mu / delta
            w_new = w + alpha * p
            f_new, g_new = self._evaluate(closure, w_new)
            evals += 1
            Delta = scg_comparison(delta, mu, f, f_new)
            if Delta >= 0.0:
                r_new = -g_new
                if state["n_iter"] % restart == 0:
                    p_new = r_new.clone()
                else:
                    beta = (float(r_new.dot(r_new)) - float(r_new.dot(r))) / mu
                    p_new = r_new + beta * p
                w, f, r, p = w_new, f_new, r_new, p_new
                lam_bar, success = 0.0, True
            else:
                lam_bar, success = lam, False
            lam = scg_adapt_lambda(lam, Delta, delta, p_norm2)

        self._set_flat(w)
        state.update(p=p, lam=lam, lam_bar=lam_bar, success=success, delta=delta)
        state["func_evals"] += evals
        return orig_loss
