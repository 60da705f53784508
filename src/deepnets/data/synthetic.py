"""Generated datasets: XOR, n-bit parity, and 1-D/2-D function approximation."""

from __future__ import annotations

import itertools
import math
from typing import Callable

import torch

from ..errors import ConfigError
from .dataset import Dataset


def xor() -> Dataset:
    """The four XOR patterns t = x₁ ⊕ x₂ (the lecture's "XOR problem"), inputs in {0, 1}."""
    return parity(2, name="xor")


def parity(n_bits: int = 4, *, name: str | None = None) -> Dataset:
    """All 2ⁿ patterns of n bits, labelled by their parity (1 when the number of ones is odd).

    >>> d = parity(3)
    >>> d.x.shape, d.y.tolist()
    (torch.Size([8, 3]), [0, 1, 1, 0, 1, 0, 0, 1])
    """
    if not isinstance(n_bits, int) or not 1 <= n_bits <= 20:
        raise ConfigError(f"parity needs 1 <= n_bits <= 20, got {n_bits!r}")
    x = torch.tensor(list(itertools.product([0.0, 1.0], repeat=n_bits)))
    y = x.sum(1).long() % 2
    return Dataset(x, y, "classification", name or f"parity{n_bits}", n_classes=2,
                   feature_names=[f"x{j + 1}" for j in range(n_bits)], target_names=["parity"])


#: named target functions for :func:`function`.
FUNCTIONS: dict[str, Callable] = {
    "sin": torch.sin,
    "cos": torch.cos,
    "sinc": lambda x: torch.sinc(x / math.pi),
    "gauss": lambda x: torch.exp(-x * x),
    # 2-D: the first column is x₁, the second x₂
    "sin_product": lambda x: torch.sin(x[:, 0]) * torch.sin(x[:, 1]),
    "saddle": lambda x: x[:, 0] * x[:, 1],
}


def function(f="sin", *, n_samples: int = 200, low: float = -math.pi, high: float = math.pi, dim: int = 1,
             noise: float = 0.0, grid: bool = True, seed: int = 0) -> Dataset:
    """Samples of z = f(x) + ε on [low, high]^dim, for the universal-approximation examples.

    Args:
        f: a name from :data:`FUNCTIONS` or any callable taking x (N, dim) -> (N,) or (N, k).
        n_samples: number of points (per axis when ``grid`` and dim = 2).
        low, high: the interval; default [−π, π].
        dim: 1 or 2 input dimensions.
        noise: standard deviation of Gaussian noise added to the targets.
        grid: evenly spaced points (True) or uniform random ones.
        seed: for random points and noise.
    """
    if dim not in (1, 2):
        raise ConfigError(f"function approximation supports dim 1 or 2, got {dim}")
    if not (isinstance(n_samples, int) and n_samples >= 2):
        raise ConfigError(f"n_samples must be an integer >= 2, got {n_samples!r}")
    if isinstance(f, str):
        if f not in FUNCTIONS:
            raise ConfigError(f"unknown function {f!r}: expected one of {sorted(FUNCTIONS)} or a callable")
        name, fn = f, FUNCTIONS[f]
    elif callable(f):
        name, fn = getattr(f, "__name__", "function"), f
    else:
        raise ConfigError(f"f must be a function name or a callable, got {f!r}")
    g = torch.Generator().manual_seed(seed)
    if grid:
        axis = torch.linspace(low, high, n_samples)
        x = axis.unsqueeze(1) if dim == 1 else torch.cartesian_prod(axis, axis)
    else:
        x = low + (high - low) * torch.rand(n_samples, dim, generator=g)
    z = fn(x[:, 0] if dim == 1 and isinstance(f, str) else x)
    z = torch.as_tensor(z, dtype=torch.float32)
    z = z.reshape(x.shape[0], -1)
    if noise > 0:
        z = z + noise * torch.randn(z.shape, generator=g)
    return Dataset(x, z, "regression", name, feature_names=[f"x{j + 1}" for j in range(dim)],
                   target_names=[f"z{i + 1}" if z.shape[1] > 1 else "z" for i in range(z.shape[1])])
