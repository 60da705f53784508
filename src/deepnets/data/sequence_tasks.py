"""Synthetic tasks that measure how far back a recurrent network can remember.

- The **adding problem** (Hochreiter & Schmidhuber 1997, experiment 4, in the two-channel form
  of Le, Jaitly & Hinton 2015): each step carries a value v_t ~ U(0, 1) and a marker m_t in
  {0, 1}; exactly two markers are 1, one in each half of the sequence, and the target is the
  sum of the two marked values. Predicting the constant E[y] = 1 gives
  MSE = Var(v_a + v_b) = 2/12 = 1/6 ~ 0.167 (:data:`ADDING_BASELINE_MSE`).
- The **copy-memory task** (Hochreiter & Schmidhuber 1997, experiment 2 in spirit; the form of
  Arjovsky, Shah & Bengio 2016): ``length`` symbols from {1..K}, a delay of T blanks (0) with a
  delimiter K+1 at its last step, then ``length`` blanks during which the network must repeat the
  symbols. A memoryless network that outputs blanks, then the uniform guess, gets cross-entropy
  ``length * log(K) / (T + 2 length)`` per step (:func:`copy_memory_baseline`) and recalls
  1/K of the symbols; :func:`copy_memory_accuracy` scores the recalled part.

Every generator takes an explicit ``torch.Generator`` (same seed, same data, bit for bit).

>>> g = torch.Generator().manual_seed(0)
>>> x, y = adding_problem(4, 10, generator=g)
>>> tuple(x.shape), tuple(y.shape), x[..., 1].sum(1).tolist()
((4, 10, 2), (4, 1), [2.0, 2.0, 2.0, 2.0])
>>> x, y = copy_memory(2, 5, length=3, generator=g)
>>> tuple(x.shape), y[0, :8].tolist()
((2, 11), [0, 0, 0, 0, 0, 0, 0, 0])
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import ConfigError

ADDING_BASELINE_MSE = 1.0 / 6.0   # Var(U1 + U2) for independent U(0, 1): the constant predictor's MSE


def _check(**sizes: int) -> None:
    for name, (value, low) in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{name} must be an int >= {low}, got {value!r}")


def adding_problem(n: int, T: int, *, generator: torch.Generator | None = None,
                   dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """n sequences of the adding problem: x (n, T, 2) = (value, marker), y (n, 1) = marked sum.

    One marker is drawn uniformly from the first half [0, T/2), the other from [T/2, T).

    Args:
        n: number of sequences.
        T: sequence length (>= 2).
        generator: the random stream. Default torch's global one.
        dtype: of x and y. Default float32.
    """
    _check(n=(n, 1), T=(T, 2))
    half = T // 2
    values = torch.rand(n, T, generator=generator, dtype=dtype)                    # (n, T)
    first = torch.randint(0, half, (n,), generator=generator)
    second = torch.randint(half, T, (n,), generator=generator)
    markers = torch.zeros(n, T, dtype=dtype)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = (values * markers).sum(1, keepdim=True)                                    # (n, 1)
    return torch.stack([values, markers], dim=2), y


def copy_memory(n: int, T: int, *, length: int = 10, symbols: int = 8,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """n sequences of the copy-memory task as integer tokens: x, y (n, T + 2 length), int64.

    Tokens: 0 blank, 1..symbols data, symbols + 1 the delimiter ("now repeat"). x holds the
    data, T - 1 blanks, the delimiter, ``length`` blanks; y holds T + length blanks, then the
    data. One-hot x with ``torch.nn.functional.one_hot(x, symbols + 2)``.

    Args:
        n: number of sequences.
        T: the delay between the last data symbol and the delimiter's step plus one (>= 1).
        length: how many symbols to remember. Default 10.
        symbols: the alphabet size K. Default 8.
        generator: the random stream.
    """
    _check(n=(n, 1), T=(T, 1), length=(length, 1), symbols=(symbols, 2))
    data = torch.randint(1, symbols + 1, (n, length), generator=generator)   # (n, length)
    x = torch.zeros(n, T + 2 * length, dtype=torch.long)
    y = torch.zeros_like(x)
    x[:, :length] = data
    x[:, length + T - 1] = symbols + 1
    y[:, T + length:] = data
    return x, y


def copy_memory_baseline(T: int, *, length: int = 10, symbols: int = 8) -> float:
    """Per-step cross-entropy (nats) of the memoryless strategy: length log K / (T + 2 length)."""
    _check(T=(T, 1), length=(length, 1), symbols=(symbols, 2))
    return length * math.log(symbols) / (T + 2 * length)


def copy_memory_accuracy(logits: Tensor, y: Tensor, *, length: int = 10) -> Tensor:
    """Fraction of the recalled symbols predicted right: mean over n and the last ``length`` steps
    of [argmax_k logits[i, t, k] == y[i, t]]. Chance (a guess among K symbols) is 1/K.

    Args:
        logits: (n, L, classes) per-step scores, classes >= symbols + 1 (blank and data).
        y: (n, L) targets from :func:`copy_memory` with the same ``length``.
        length: how many symbols were to be remembered (the last ``length`` steps of y).
    Returns:
        a 0-dim float tensor in [0, 1].
    """
    _check(length=(length, 1))
    if logits.dim() != 3 or y.shape != logits.shape[:2] or y.shape[1] < length:
        raise ConfigError(f"expected logits (n, L, classes) and y (n, L) with L >= length = {length}, "
                          f"got {tuple(logits.shape)} and {tuple(y.shape)}")
    recalled = logits[:, -length:].argmax(2)            # (n, length)
    return (recalled == y[:, -length:]).float().mean()
