"""The pair loss of semi-supervised learning: similar outputs for similar inputs, a margin apart otherwise."""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError, DataError


class ContrastiveLoss:
    """The lecture's pair loss on the outputs ẑ(xⁿ), ẑ(xᵐ) of a pair with side information S_nm:

        L = ‖ẑ(xⁿ) − ẑ(xᵐ)‖²                 if S_nm = 1 (similar),
        L = max(0, M − ‖ẑ(xⁿ) − ẑ(xᵐ)‖²)      if S_nm = 0 (dissimilar),

    M the minimal margin between dissimilar data. ``loss(z_n, z_m, similar)`` returns the mean of
    L over the pairs (rows); :meth:`per_pair` the L of each. Its gradient is 2(ẑⁿ − ẑᵐ) for a
    similar pair, −2(ẑⁿ − ẑᵐ) for a dissimilar pair inside the margin and 0 outside it.

    Reference: Hadsell, Chopra & LeCun 2006, "Dimensionality reduction by learning an invariant
    mapping" (the contrastive loss, there on the distance; here, as in the lecture, on its square);
    Weston, Ratle & Collobert 2008, "Deep learning via semi-supervised embedding".

    Args:
        margin: M > 0. Default 1.

    >>> loss = ContrastiveLoss(margin=1.0)
    >>> a, b = torch.tensor([[0.0, 0.0], [0.0, 0.0]]), torch.tensor([[0.3, 0.4], [0.3, 0.4]])
    >>> loss.per_pair(a, b, torch.tensor([True, False]))
    tensor([0.2500, 0.7500])
    """

    def __init__(self, margin: float = 1.0):
        margin = float(margin)
        if not margin > 0 or margin == float("inf"):
            raise ConfigError(f"the contrastive margin M must be a finite number > 0, got {margin}")
        self.margin = margin

    def per_pair(self, z_n: Tensor, z_m: Tensor, similar: Tensor) -> Tensor:
        """L of each pair: rows of ``z_n`` and ``z_m`` (same shape), ``similar`` a (P,) bool/0-1 tensor."""
        if z_n.shape != z_m.shape or z_n.dim() == 0:
            raise DataError(f"the pair's outputs must have one shape (P, ...), got {tuple(z_n.shape)} and {tuple(z_m.shape)}")
        if similar.shape != z_n.shape[:1]:
            raise DataError(f"S_nm must have one entry per pair, shape {tuple(z_n.shape[:1])}, got {tuple(similar.shape)}")
        d2 = (z_n - z_m).pow(2).reshape(z_n.shape[0], -1).sum(1)
        return torch.where(similar.bool(), d2, torch.clamp(self.margin - d2, min=0.0))

    def __call__(self, z_n: Tensor, z_m: Tensor, similar: Tensor) -> Tensor:
        return self.per_pair(z_n, z_m, similar).mean()

    def __repr__(self):
        return f"ContrastiveLoss(margin={self.margin})"
