import math

import pytest
import torch

from deepnets.optim.line_search import cubic_minimizer, strong_wolfe


def test_cubic_minimizer_recovers_a_cubic_minimum():
    # f(a) = a^3/3 - a has its local minimum at a = 1; sample values and slopes at 0 and 2.
    f = lambda a: a**3 / 3 - a
    df = lambda a: a**2 - 1
    assert cubic_minimizer(0.0, f(0.0), df(0.0), 2.0, f(2.0), df(2.0)) == pytest.approx(1.0, abs=1e-12)


def test_cubic_minimizer_without_a_minimum_is_nan():
    # Straight line: values and slopes of f(a) = -a have no minimiser.
    assert math.isnan(cubic_minimizer(0.0, 0.0, -1.0, 1.0, -1.0, -1.0))


def _rosenbrock_line(x0, d):
    def phi(alpha):
        x = (x0 + alpha * d).requires_grad_(True)
        f = 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2
        (g,) = torch.autograd.grad(f, x)
        return float(f.detach()), float(g.dot(d)), g

    return phi


@pytest.mark.parametrize("alpha0", [1e-4, 1e-2, 1.0, 30.0])
@pytest.mark.parametrize("c2", [0.9, 0.1])
def test_strong_wolfe_conditions_hold_on_rosenbrock(alpha0, c2):
    x0 = torch.tensor([-1.2, 1.0], dtype=torch.float64)
    phi = _rosenbrock_line(x0, torch.zeros(2, dtype=torch.float64))
    f0, _, g0 = phi(0.0)
    d = -g0
    phi = _rosenbrock_line(x0, d)
    dphi0 = float(g0.dot(d))
    res = strong_wolfe(phi, f0, dphi0, alpha0, c1=1e-4, c2=c2)
    assert res.success
    # Check both conditions by an independent evaluation at the returned step.
    f, dphi, _ = phi(res.alpha)
    assert f <= f0 + 1e-4 * res.alpha * dphi0
    assert abs(dphi) <= c2 * abs(dphi0)
    assert f == res.f


def test_strong_wolfe_on_a_quadratic_is_exact_after_interpolation():
    # phi(a) = 3 (a - 0.7)^2: the first trial 0.1 is too short, extrapolation hits 0.7 exactly.
    phi = lambda a: (3 * (a - 0.7) ** 2, 6 * (a - 0.7), None)
    res = strong_wolfe(phi, 3 * 0.49, -4.2, 0.1, c2=1e-3)
    assert res.alpha == pytest.approx(0.7, rel=1e-12)


def test_strong_wolfe_rejects_an_ascent_direction():
    with pytest.raises(ValueError, match="descent direction"):
        strong_wolfe(lambda a: (a, 1.0, None), 0.0, 1.0, 1.0)


def test_strong_wolfe_survives_non_finite_values():
    # E is +inf beyond a = 1 (say, an overflow); the minimum of (a - 0.5)^2 is inside.
    def phi(a):
        if a > 1.0:
            return math.inf, math.nan, None
        return (a - 0.5) ** 2, 2 * (a - 0.5), None

    res = strong_wolfe(phi, 0.25, -1.0, 4.0, c2=0.1)
    assert res.success and abs(res.alpha - 0.5) <= 0.05
