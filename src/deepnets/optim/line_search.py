"""A strong-Wolfe line search, shared by conjugate gradient and memoryless quasi-Newton.

Along a descent direction d from the point w the line function is phi(alpha) = E(w + alpha d),
with slope phi'(alpha) = grad E(w + alpha d)^T d. A step alpha is accepted when it satisfies the
strong Wolfe conditions

    phi(alpha)       <= phi(0) + c1 * alpha * phi'(0)     (sufficient decrease)
    |phi'(alpha)|    <= c2 * |phi'(0)|                     (curvature)

with 0 < c1 < c2 < 1. The search brackets an acceptable step by extrapolation, then shrinks the
bracket ("zoom") with safeguarded cubic interpolation of the two end points' values and slopes.
On a quadratic the cubic through two points' values and slopes is the quadratic itself, so the
interpolated step is the exact minimiser along d; that is what lets conjugate gradient finish a
quadratic in n iterations when c2 is small.

Reference: Nocedal & Wright, Numerical Optimization, 2nd ed. (2006), Algorithms 3.5 and 3.6,
and eq. (3.59) for the cubic step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["LineSearchResult", "cubic_minimizer", "strong_wolfe"]

# phi(alpha) -> (phi(alpha), phi'(alpha), payload); payload is whatever the caller wants back
# for the accepted step (the optimizers pass the flat gradient there).
LineFunction = Callable[[float], "tuple[float, float, Any]"]


@dataclass
class LineSearchResult:
    """The accepted step and what was evaluated there.

    ``success`` is False when no step met the strong Wolfe conditions within ``max_evals``;
    ``alpha`` is then the best step that met sufficient decrease, or 0.0 if none did.
    """

    alpha: float
    f: float
    dphi: float
    payload: Any
    n_evals: int
    success: bool


def cubic_minimizer(a: float, fa: float, ga: float, b: float, fb: float, gb: float) -> float:
    """Minimiser of the cubic that matches values and slopes at a and b, or NaN if it has none.

        d1 = ga + gb - 3 (fa - fb) / (a - b)
        d2 = sign(b - a) sqrt(d1^2 - ga gb)
        alpha = b - (b - a) (gb + d2 - d1) / (gb - ga + 2 d2)

    Reference: Nocedal & Wright (2006), eq. (3.59).

    >>> round(cubic_minimizer(0.0, 1.0, -2.0, 2.0, 1.0, 2.0), 12)   # (x - 1)^2 sampled at 0 and 2
    1.0
    """
    if a == b:
        return math.nan
    d1 = ga + gb - 3.0 * (fa - fb) / (a - b)
    disc = d1 * d1 - ga * gb
    if not math.isfinite(disc) or disc < 0.0:
        return math.nan
    d2 = math.copysign(math.sqrt(disc), b - a)
    denom = gb - ga + 2.0 * d2
    if denom == 0.0:
        return math.nan
    return b - (b - a) * (gb + d2 - d1) / denom


def _inside(alpha: float, lo: float, hi: float, margin: float) -> float:
    """alpha clamped into [min+margin*w, max-margin*w]; the bisection point if alpha is NaN."""
    left, right = min(lo, hi), max(lo, hi)
    if not math.isfinite(alpha):
        return 0.5 * (left + right)
    width = right - left
    return min(max(alpha, left + margin * width), right - margin * width)


def strong_wolfe(
    phi: LineFunction,
    f0: float,
    dphi0: float,
    alpha0: float,
    *,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_evals: int = 25,
    tolerance_change: float = 1e-12,
    payload0: Any = None,
) -> LineSearchResult:
    """Find a step alpha meeting the strong Wolfe conditions along a descent direction.

    Args:
        phi: the line function, alpha -> (phi(alpha), phi'(alpha), payload).
        f0: phi(0).
        dphi0: phi'(0); must be negative (a descent direction).
        alpha0: first trial step (> 0).
        c1: sufficient-decrease constant (default 1e-4).
        c2: curvature constant (default 0.9 for quasi-Newton; use 0.1 or less for CG).
        max_evals: most evaluations of phi (default 25).
        tolerance_change: stop zooming when the bracket is narrower than this (default 1e-12).
        payload0: payload returned with alpha = 0 when nothing better is found.

    Reference: Nocedal & Wright (2006), Algorithms 3.5 (bracketing) and 3.6 (zoom).
    """
    if not dphi0 < 0.0:
        raise ValueError(f"Line search needs a descent direction, got phi'(0) = {dphi0}")
    if not alpha0 > 0.0:
        raise ValueError(f"Invalid initial step: {alpha0}")
    if not 0.0 < c1 < c2 < 1.0:
        raise ValueError(f"Invalid Wolfe constants: need 0 < c1 < c2 < 1, got c1={c1}, c2={c2}")

    def armijo_fails(alpha: float, f: float) -> bool:
        # `not <=` so that a NaN or inf value counts as a failure.
        return not f <= f0 + c1 * alpha * dphi0

    def curvature_holds(dphi: float) -> bool:
        return abs(dphi) <= -c2 * dphi0

    n_evals = 0
    prev = (0.0, f0, dphi0, payload0)
    alpha = alpha0
    lo = hi = None
    while n_evals < max_evals:
        f, dphi, payload = phi(alpha)
        n_evals += 1
        point = (alpha, f, dphi, payload)
        if armijo_fails(alpha, f) or (n_evals > 1 and f >= prev[1]):
            lo, hi = prev, point
            break
        if curvature_holds(dphi):
            return LineSearchResult(alpha, f, dphi, payload, n_evals, True)
        if dphi >= 0.0:
            lo, hi = point, prev
            break
        # Still descending: extrapolate by the cubic, kept within [1.1 alpha, 10 alpha].
        guess = cubic_minimizer(prev[0], prev[1], prev[2], alpha, f, dphi)
        low_bound, high_bound = alpha + 0.1 * (alpha - prev[0]), 10.0 * alpha
        if not math.isfinite(guess) or guess > high_bound:
            guess = high_bound
        prev, alpha = point, max(guess, low_bound)
    else:
        # Out of evaluations while still extrapolating: the last point has sufficient decrease.
        return LineSearchResult(prev[0], prev[1], prev[2], prev[3], n_evals, False)

    # Zoom: lo has sufficient decrease and the lowest value so far; the minimiser lies between.
    width_before = abs(hi[0] - lo[0])
    margin = 0.0
    while n_evals < max_evals and abs(hi[0] - lo[0]) > tolerance_change * max(1.0, abs(lo[0])):
        guess = cubic_minimizer(lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]) if math.isfinite(hi[1]) else math.nan
        alpha = _inside(guess, lo[0], hi[0], margin)
        f, dphi, payload = phi(alpha)
        n_evals += 1
        point = (alpha, f, dphi, payload)
        if armijo_fails(alpha, f) or f >= lo[1]:
            hi = point
        else:
            if curvature_holds(dphi):
                return LineSearchResult(alpha, f, dphi, payload, n_evals, True)
            if dphi * (hi[0] - lo[0]) >= 0.0:
                hi = lo
            lo = point
        # Interpolation that keeps landing near one end shrinks the bracket slowly: after a
        # step that did not halve it, keep the next trial a tenth of the width from either end.
        width = abs(hi[0] - lo[0])
        margin = 0.1 if width > 0.5 * width_before else 0.0
        width_before = width
    return LineSearchResult(lo[0], lo[1], lo[2], lo[3], n_evals, False)
