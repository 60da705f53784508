"""The perceptron learning rule (Rosenblatt 1958): a threshold unit trained without gradients.

A single unit ẑ = sign(wᵀx + b) ∈ {−1, +1} (sign(0) = −1) learns from examples (xⁿ, zⁿ),
zⁿ ∈ {−1, +1}, taken one at a time in cycles over the data; each one it gets wrong moves it:

    w ← w + η (zⁿ − ẑⁿ) xⁿ,   b ← b + η (zⁿ − ẑⁿ),

(a correct answer leaves it alone since zⁿ − ẑⁿ = 0). On linearly separable data the rule stops
after finitely many updates: with ‖xⁿ‖ ≤ R (the bias input 1 included) and a unit vector u that
separates with margin γ = minₙ zⁿ uᵀxⁿ > 0, it makes at most (R/γ)² mistakes from w = 0
(Novikoff 1962). On data that no line separates (XOR) it never reaches zero errors: its weights
come back to a state they had at the start of an earlier cycle and repeat from there (the
perceptron cycling theorem, Minsky & Papert 1969; Block & Levin 1970).

There is no gradient here (sign has none), so this is a trainer of its own beside
:func:`deepnets.fit`.

>>> import torch
>>> x = torch.tensor([[0., 0.], [0., 1.], [1., 0.], [1., 1.]])
>>> r = perceptron(x, torch.tensor([-1, -1, -1, 1]))          # AND: separable
>>> r.converged, r.predict(x).tolist()
(True, [-1, -1, -1, 1])
>>> perceptron(x, torch.tensor([-1, 1, 1, -1])).cycled          # XOR: cycles
True

References: Rosenblatt 1958, "The perceptron: a probabilistic model for information storage and
organization in the brain", Psychological Review 65; Novikoff 1962, "On convergence proofs on
perceptrons"; Minsky & Papert 1969, "Perceptrons".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from .._registry import check_positive_int
from ..errors import ConfigError, DataError

__all__ = ["perceptron", "PerceptronResult"]


@dataclass
class PerceptronResult:
    """What :func:`perceptron` learned and how it went.

    Attributes:
        w: weights (p,), float64. b: the bias (threshold with its sign flipped).
        updates: how many examples changed the weights (the mistakes made).
        epochs: cycles over the data run.
        converged: an epoch made no mistake (every example on its side).
        cycled: the state (w, b) at the start of an epoch equals the one at the start of an
            earlier epoch, with mistakes made in between: the rule loops and can never converge.
        errors: the mistakes of each epoch.
    """

    w: Tensor
    b: float
    updates: int
    epochs: int
    converged: bool
    cycled: bool
    errors: list[int] = field(default_factory=list)

    def predict(self, x: Tensor) -> Tensor:
        """ẑ = sign(wᵀx + b) ∈ {−1, +1}, int64 (N,); a point on the boundary gets −1."""
        a = x.to(torch.float64) @ self.w + self.b
        return torch.where(a > 0, 1, -1)


def _pm1(y: Tensor, n: int) -> Tensor:
    if y.dim() != 1 or y.shape[0] != n:
        raise DataError(f"the perceptron's targets are one label per example, shape ({n},), got {tuple(y.shape)}")
    values = set(torch.unique(y).tolist())
    if values <= {-1, 1}:
        return y.to(torch.float64)
    if values <= {0, 1}:
        return y.to(torch.float64) * 2 - 1
    raise DataError(f"the perceptron's targets are two classes, -1/+1 or 0/1, got values {sorted(values)[:6]}")


def perceptron(x: Tensor, y: Tensor, *, lr: float = 1.0, epochs: int = 1000, w0: Tensor | None = None,
               b0: float = 0.0, shuffle: bool = False, seed: int = 0) -> PerceptronResult:
    """Train a threshold unit by the perceptron rule w ← w + η (z − ẑ) x (see the module).

    Stops at the first epoch without a mistake (converged), at the first epoch whose starting
    weights repeat an earlier epoch's (cycled; only with ``shuffle=False``, where a repeated state
    means the same epochs follow for ever), or after ``epochs``.

    Args:
        x: inputs, (N, p).
        y: labels (N,), −1/+1 or 0/1.
        lr: η > 0. Default 1 (integer data then gives integer weights, and cycles are exact).
        epochs: the most cycles over the data. Default 1000.
        w0, b0: the starting weights (p,) and bias. Default zero.
        shuffle: a fresh order each epoch (drawn from ``seed``). Default False: the data's order.
        seed: the order's seed when shuffling.

    Raises:
        DataError: x not (N, p) with N >= 1, or labels not one per example in two classes.
        ConfigError: lr not > 0 or epochs not a positive integer.
    """
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] == 0:
        raise DataError(f"the perceptron's inputs are a tensor (N, p) with N >= 1, got "
                        f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ConfigError(f"the perceptron's learning rate lr must be > 0, got {lr!r}")
    check_positive_int("epochs", epochs)
    n, p = x.shape
    X = torch.cat([x.to(torch.float64), torch.ones(n, 1, dtype=torch.float64)], dim=1)  # (N, p + 1): bias input
    z = _pm1(y, n)
    v = torch.zeros(p + 1, dtype=torch.float64)  # [w, b]
    if w0 is not None:
        if w0.shape != (p,):
            raise DataError(f"w0 must have shape ({p},), got {tuple(w0.shape)}")
        v[:p] = w0.to(torch.float64)
    v[p] = float(b0)
    g = torch.Generator().manual_seed(seed)
    seen, errors, updates = set(), [], 0
    converged = cycled = False
    for _ in range(epochs):
        state = tuple(v.tolist())
        if not shuffle and state in seen:
            cycled = True
            break
        seen.add(state)
        order = torch.randperm(n, generator=g).tolist() if shuffle else range(n)
        mistakes = 0
        for i in order:
            zhat = 1.0 if float(X[i] @ v) > 0 else -1.0
            if zhat != z[i]:
                v += lr * (float(z[i]) - zhat) * X[i]  # (z − ẑ) = ±2
                mistakes += 1
        errors.append(mistakes)
        updates += mistakes
        if mistakes == 0:
            converged = True
            break
    return PerceptronResult(w=v[:p].clone(), b=float(v[p]), updates=updates, epochs=len(errors),
                            converged=converged, cycled=cycled, errors=errors)
