"""Cheaper curvature: the diagonal and the block-diagonal of the outer-product Hessian.

Both keep only part of Q = Σ_k x_k x_k^T and are computed from the rows x_k without forming Q:

- diagonal:        Q_pp = Σ_k x_kp²  (what Optimal Brain Damage uses; LeCun, Denker & Solla 1990)
- block-diagonal:  Q_b = Σ_k x_k[b] x_k[b]^T for each index block b (per tensor, per layer or per
  neuron, see :meth:`ParamLayout.blocks`); the blocks the decoupled Kalman filter keeps
  (Puskorius & Feldkamp 1991).

>>> import torch
>>> X = torch.randn(10, 6)
>>> torch.allclose(diagonal_curvature(X), torch.diag(X.T @ X), atol=1e-5)
True
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ..errors import DataError


def diagonal_curvature(X: Tensor, *, alpha: float | Tensor = 0.0) -> Tensor:
    """diag(Q) = Σ_k x_k ∘ x_k + α, shape (P,), from the rows X (K, P)."""
    if X.ndim != 2:
        raise DataError(f"expected rows X of shape (K, P), got {tuple(X.shape)}")
    return (X * X).sum(0) + alpha  # (P,)


def block_curvature(X: Tensor, blocks: Sequence[Tensor], *, alpha: float = 0.0) -> list[Tensor]:
    """The diagonal blocks Q_b = X[:, b]^T X[:, b] + α I, one (|b|, |b|) matrix per block."""
    if X.ndim != 2:
        raise DataError(f"expected rows X of shape (K, P), got {tuple(X.shape)}")
    out = []
    for b in blocks:
        Xb = X[:, b]  # (K, |b|)
        out.append(Xb.T @ Xb + alpha * torch.eye(len(b), dtype=X.dtype, device=X.device))
    return out


def assemble_blocks(blocks: Sequence[Tensor], index: Sequence[Tensor], P: int) -> Tensor:
    """The (P, P) matrix with the given blocks on the given indices and zeros elsewhere."""
    first = blocks[0]
    Q = torch.zeros(P, P, dtype=first.dtype, device=first.device)
    for B, b in zip(blocks, index):
        Q[b.unsqueeze(1), b.unsqueeze(0)] = B  # (|b|, |b|) scattered into (P, P)
    return Q
