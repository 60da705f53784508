"""The inverse outer-product Hessian by the Woodbury recursion of Hassibi & Stork (1993).

With Q = α I + (1/N) Σ_k x_k x_k^T built one rank-one term at a time, the matrix inversion
lemma gives the inverse directly, never factorising a P×P matrix:

    Q_0^{-1} = α^{-1} I
    Q_{k+1}^{-1} = Q_k^{-1} − Q_k^{-1} x_{k+1} x_{k+1}^T Q_k^{-1} / (N + x_{k+1}^T Q_k^{-1} x_{k+1})

(Hassibi & Stork 1993, eq. 10). ``block_size > 1`` folds b rows in at once with the same lemma,
Q^{-1} − Q^{-1} X^T (N I_b + X Q^{-1} X^T)^{-1} X Q^{-1}: the same inverse, fewer passes over
the P×P matrix.

>>> import torch
>>> X = torch.randn(20, 4, dtype=torch.float64)
>>> Qi = woodbury_inverse(X, alpha=1e-3)
>>> Q = 1e-3 * torch.eye(4, dtype=torch.float64) + X.T @ X / 20
>>> torch.allclose(Qi, torch.linalg.inv(Q))
True
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ConfigError, DataError


def woodbury_inverse(X: Tensor, *, alpha: float, scale: float | None = None,
                     block_size: int = 1) -> Tensor:
    """Q^{-1} for Q = α I + s Σ_k x_k x_k^T, by rank-one (or rank-b) Woodbury updates.

    Args:
        X: the rows x_k, shape (K, P) (e.g. :func:`gauss_newton_factors`).
        alpha: the start Q_0 = α I (α > 0); Hassibi & Stork use 1e-8 ≤ α ≤ 1e-4.
        scale: s, the weight of each outer product; default 1/K (Hassibi & Stork's 1/P, so the
            divisor is N + x^T Q^{-1} x). Use ``scale=1`` for the plain sum Σ x x^T.
        block_size: rows folded in per update (1: the paper's recursion).

    Returns:
        Q^{-1}, shape (P, P).

    Reference: Hassibi & Stork 1993, "Second order derivatives for network pruning: Optimal
    Brain Surgeon", eq. 10-11.
    """
    if X.ndim != 2:
        raise DataError(f"expected rows X of shape (K, P), got {tuple(X.shape)}")
    if not alpha > 0:
        raise ConfigError(f"alpha must be > 0 (Q_0 = alpha I must be invertible), got {alpha}")
    if block_size < 1:
        raise ConfigError(f"block_size must be >= 1, got {block_size}")
    K, P = X.shape
    s = 1.0 / max(K, 1) if scale is None else float(scale)
    if not s > 0:
        raise ConfigError(f"scale must be > 0, got {scale}")
    Q_inv = torch.eye(P, dtype=X.dtype, device=X.device) / alpha  # (P, P)
    for start in range(0, K, block_size):
        Xb = X[start:start + block_size]  # (b, P)
        U = Q_inv @ Xb.T  # (P, b) = Q^{-1} x
        if Xb.shape[0] == 1:
            Q_inv = Q_inv - (U @ U.T) / (1.0 / s + Xb[0] @ U[:, 0])  # (P, P)
        else:
            S = torch.eye(Xb.shape[0], dtype=X.dtype, device=X.device) / s + Xb @ U  # (b, b)
            Q_inv = Q_inv - U @ torch.linalg.solve(S, U.T)  # (P, P)
        Q_inv = 0.5 * (Q_inv + Q_inv.T)  # keep it symmetric against rounding
    return Q_inv
