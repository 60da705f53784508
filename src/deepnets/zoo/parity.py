"""Hand-set ReLU networks that compute n-bit parity exactly: depth against width.

The lecture (after Håstad 1987): circuits of polynomial size with k layers may need exponentially
many nodes with k − 1 layers, parity being the example, so "deep networks may require less
number of weights than a shallow representation". Three constructions, each a deepnets
:class:`~deepnets.nn.MLP` with ReLU hidden units and a linear output whose value on every
x ∈ {0, 1}ⁿ is x₁ ⊕ … ⊕ x_n exactly (all weights dyadic, so exact in floating point):

- ``"dnf"``, the shallow circuit of Håstad's setting: one hidden unit per odd-parity pattern m,
  h_m = ReLU(Σ_i (2m_i − 1) x_i − |m| + 1), which is 1 at x = m and 0 elsewhere (an AND of
  literals); the output sums them (an OR). 2ⁿ⁻¹ hidden units, (n + 2)·2ⁿ⁻¹ + 1 weights.
- ``"shallow"``, one hidden layer of n units of the bit count s = Σ_i x_i:
  h_j = ReLU(s − j), j = 0, …, n − 1, ẑ = h_0 + Σ_{j≥1} 2(−1)ʲ h_j, the piecewise-linear zigzag
  through (s, s mod 2). n hidden units, (n + 1)² weights: threshold-like units escape the
  exponential count of AND/OR circuits, and what depth saves is a factor n, not 2ⁿ.
- ``"deep"``, k = ⌈log₂ n⌉ layers of 2 units: the tent map T(t) = 2 ReLU(t) − 4 ReLU(t − ½)
  composed k times on t = s / 2ᵏ (Telgarsky 2016, "Benefits of depth in neural networks", COLT).
  T folds [0, 1] onto itself and maps m / 2ʲ to m′ / 2ʲ⁻¹ with m′ ∈ {m, 2ʲ − m} of the same
  parity, so Tᵏ(s / 2ᵏ) = s mod 2. 2k hidden units, 2n + 6k − 1 weights.

>>> import torch
>>> net = parity_net(5, "deep")
>>> net.sizes, parity_weight_count(5, "deep")
([5, 2, 2, 2, 1], 27)
>>> net(torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0]])).item()
1.0
"""

from __future__ import annotations

import itertools
import math

import torch

from .._registry import check_choice, check_positive_int
from ..errors import ConfigError
from ..nn.mlp import MLP

__all__ = ["PARITY_NETS", "parity_net", "parity_weight_count"]

PARITY_NETS = ("dnf", "shallow", "deep")  # the hand-set constructions, from widest to deepest


def _depth(n_bits: int) -> int:
    """k = ⌈log₂ n⌉ tent layers: enough folds for the n + 1 bit counts s = 0, …, n."""
    return max(1, math.ceil(math.log2(n_bits)))


def _check(n_bits: int, kind: str) -> None:
    check_positive_int("n_bits", n_bits)
    if n_bits < 2:
        raise ConfigError(f"parity needs n_bits >= 2, got {n_bits}")
    check_choice("kind", kind, PARITY_NETS)


def parity_weight_count(n_bits: int, kind: str = "deep") -> int:
    """Weights and biases of :func:`parity_net(n_bits, kind) <parity_net>`, in closed form.

    ``"dnf"``: (n + 2)·2ⁿ⁻¹ + 1; ``"shallow"``: (n + 1)²; ``"deep"``: 2n + 6⌈log₂ n⌉ − 1.
    """
    _check(n_bits, kind)
    n = n_bits
    if kind == "dnf":
        return (n + 2) * 2 ** (n - 1) + 1
    if kind == "shallow":
        return (n + 1) ** 2
    return 2 * n + 6 * _depth(n) - 1


@torch.no_grad()
def parity_net(n_bits: int, kind: str = "deep") -> MLP:
    """A ReLU :class:`~deepnets.nn.MLP` with hand-set weights whose output is x₁ ⊕ … ⊕ x_n.

    Args:
        n_bits: n ≥ 2 inputs, each 0 or 1.
        kind: ``"deep"`` (default: ⌈log₂ n⌉ tent layers of width 2), ``"shallow"`` (one hidden
            layer of n units of the bit count) or ``"dnf"`` (one hidden unit per odd pattern);
            the module docstring gives each construction.

    Returns:
        the network, its linear output (N, 1) equal to the parity of each row of x (N, n).
    """
    _check(n_bits, kind)
    n = n_bits
    if kind == "dnf":
        odd = [m for m in itertools.product((0.0, 1.0), repeat=n) if sum(m) % 2 == 1]
        M = torch.tensor(odd)                                          # (2ⁿ⁻¹, n) odd patterns
        net = MLP([n, len(odd), 1], activation="relu", output="linear")
        hidden, out = net.layers
        hidden.weight.copy_(2 * M - 1)                                 # +1 on m's ones, −1 on its zeros
        hidden.bias.copy_(1 - M.sum(1))                                # −|m| + 1
        out.weight.fill_(1.0)                                          # OR of disjoint ANDs: their sum
        out.bias.zero_()
        return net
    if kind == "shallow":
        net = MLP([n, n, 1], activation="relu", output="linear")
        hidden, out = net.layers
        hidden.weight.fill_(1.0)                                       # every unit sees s = Σ x_i
        hidden.bias.copy_(-torch.arange(n, dtype=torch.float32))        # h_j = ReLU(s − j)
        c = torch.tensor([1.0] + [2.0 * (-1) ** j for j in range(1, n)])  # slopes 1, −1, 1, …
        out.weight.copy_(c.unsqueeze(0))                               # (1, n)
        out.bias.zero_()
        return net
    k = _depth(n)
    net = MLP([n] + [2] * k + [1], activation="relu", output="linear")
    first, *middle, out = net.layers
    first.weight.fill_(2.0 ** -k)                                      # both units see t = s / 2ᵏ
    tent = torch.tensor([[2.0, -4.0], [2.0, -4.0]])                    # T = 2 ReLU(t) − 4 ReLU(t − ½)
    for layer in [first, *middle]:
        if layer is not first:
            layer.weight.copy_(tent)                                   # the next layer's t is T
        layer.bias.copy_(torch.tensor([0.0, -0.5]))                    # units ReLU(t), ReLU(t − ½)
    out.weight.copy_(tent[:1])                                         # ẑ = Tᵏ(s / 2ᵏ)
    out.bias.zero_()
    return net
