"""How much a network's outputs move with each input: a relevance that does not depend on how the
weights split an effect between layers.

ARD's relevance 1/α_j is the prior variance of input j's outgoing weights W(1)[:, j]. A tanh unit
near its linear region carries a linear effect c x_j as u · tanh(v x_j) ≈ u v x_j: any split of c
into u v fits the data, so the MAP weights take a small v (cheap under α_j) and a large u (paid
under the later layer's α). The input's weights then look small and its α large although the
output depends on it (γ_j, the number of its well-determined weights, stays near its true value).
The sensitivity below measures the effect itself: the root mean square over the training inputs
of the derivative of the outputs by x_j,

    s_j = ( (1/N) Σ_n Σ_i (∂f_i(x^n) / ∂x_j)² )^{1/2}          (per unit of x_j: standardise x first)

(Zurada, Malinowski & Usui 1997, "Perturbation method for deleting redundant inputs of perceptron
networks", Neurocomputing 14). It costs one backward pass per output.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import DataError


def input_sensitivity(model: nn.Module, x: Tensor) -> Tensor:
    """s_j = sqrt(mean_n Σ_i (∂f_i(x^n)/∂x_j)²) for each input j, (D,), at the model's weights.

    Args:
        model: any module mapping (N, D) to outputs (N, C) (the outputs as the model returns them).
        x: inputs (N, D), in the units the model sees (standardised, for a deepnets run).

    >>> lin = torch.nn.Linear(2, 1)
    >>> with torch.no_grad(): _ = lin.weight.copy_(torch.tensor([[3.0, -0.5]]))
    >>> input_sensitivity(lin, torch.randn(5, 2))
    tensor([3.0000, 0.5000])
    """
    if x.ndim != 2 or x.shape[0] == 0:
        raise DataError(f"expected inputs (N, D) with N >= 1, got shape {tuple(x.shape)}")
    xr = x.detach().clone().requires_grad_()
    out = model(xr)
    out = out.reshape(x.shape[0], -1)  # (N, C)
    total = torch.zeros(x.shape[1], dtype=x.dtype)
    for i in range(out.shape[1]):
        (g,) = torch.autograd.grad(out[:, i].sum(), xr, retain_graph=i + 1 < out.shape[1])  # (N, D)
        total = total + (g.detach() ** 2).sum(0)
    return (total / x.shape[0]).sqrt()
