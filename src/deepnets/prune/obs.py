"""Optimal Brain Surgeon on a flat weight vector: the step, and the curvatures it runs on.

To set weight q to zero at the least increase of E ≈ ½ Δw^T Q Δw, solve
min ½ Δw^T Q Δw subject to e_q^T Δw + w_q = 0 (the lecture's slide):

    Δw  = −(w_q / [Q^{-1}]_qq) Q^{-1} e_q
    L_q = w_q² / (2 [Q^{-1}]_qq)                 (the saliency: the increase in E)

and remove the q with the smallest L_q. After the removal the weights live in the subspace
w_q = 0, whose inverse Hessian is the Schur-complement downdate

    Q^{-1} ← Q^{-1} − Q^{-1} e_q e_q^T Q^{-1} / [Q^{-1}]_qq

so the next step never moves a removed weight again and repeated steps are exact on a
quadratic. The curvature is a strategy with three operations (``diag``, ``column``,
``downdate``):

- :class:`FullInverse` -- the full Q^{-1}: Optimal Brain Surgeon (Hassibi & Stork 1993).
- :class:`DiagonalInverse` -- Q taken diagonal: Q^{-1} e_q = e_q / h_qq, so Δw touches w_q
  alone and L_q = h_qq w_q² / 2 -- Optimal Brain Damage (LeCun, Denker & Solla 1990).
- ``DiagonalInverse(ones)`` -- Q = I: L_q = w_q²/2, magnitude pruning.

>>> import torch
>>> w = torch.tensor([1.0, 0.1, -2.0])
>>> alive = torch.ones(3, dtype=torch.bool)
>>> q, L = obs_step(w, DiagonalInverse(torch.ones(3)), alive)
>>> q, round(L, 3), w.tolist()
(1, 0.005, [1.0, 0.0, -2.0])
"""

from __future__ import annotations

import torch
from torch import Tensor


class FullInverse:
    """The full inverse curvature Q^{-1} (P, P), downdated in place as weights are removed."""

    def __init__(self, Q_inv: Tensor, *, copy: bool = True):
        self.Q_inv = Q_inv.clone() if copy else Q_inv  # copy=False: take ownership (no second P×P)

    def diag(self) -> Tensor:
        return torch.diagonal(self.Q_inv)  # (P,)

    def column(self, q: int) -> Tensor:
        return self.Q_inv[:, q]  # (P,) = Q^{-1} e_q

    def downdate(self, q: int) -> None:
        c = self.Q_inv[:, q].clone()  # (P,)
        self.Q_inv.addr_(c, c, alpha=-1.0 / float(c[q]))  # (P, P) -= c c^T / c_q, in place
        self.Q_inv[q, :] = 0.0
        self.Q_inv[:, q] = 0.0


class DiagonalInverse:
    """A diagonal inverse curvature 1/h (P,): Optimal Brain Damage (h = diag Q) or magnitude (h = 1)."""

    def __init__(self, q_inv_diag: Tensor):
        self.d = q_inv_diag.clone()

    def diag(self) -> Tensor:
        return self.d

    def column(self, q: int) -> Tensor:
        c = torch.zeros_like(self.d)
        c[q] = self.d[q]
        return c

    def downdate(self, q: int) -> None:
        self.d[q] = 0.0


def saliencies(w: Tensor, Q_inv_diag: Tensor, alive: Tensor) -> Tensor:
    """L_q = w_q² / (2 [Q^{-1}]_qq) for each alive weight; +inf for removed ones, (P,)."""
    L = w * w / (2 * Q_inv_diag)
    return torch.where(alive, L, torch.full_like(L, float("inf")))


def obs_step(w: Tensor, curvature: FullInverse | DiagonalInverse, alive: Tensor,
             prunable: Tensor | None = None) -> tuple[int, float]:
    """Remove the least salient weight in place: w += Δw, w_q = 0, alive[q] = False, downdate.

    Args:
        w: the flat weights (P,), changed in place.
        curvature: the inverse curvature strategy (downdated in place).
        alive: boolean (P,), True for weights still present (changed in place).
        prunable: boolean (P,) -- weights that may be chosen (default: every alive weight);
            a weight that is alive but not prunable still moves with Δw.

    Returns:
        ``(q, L_q)``: the removed index and its saliency (the predicted increase in E).
    """
    d = curvature.diag()  # (P,)
    candidates = alive if prunable is None else alive & prunable
    L = saliencies(w, d, candidates)
    q = int(torch.argmin(L))
    Lq = float(L[q])
    w.sub_((w[q] / d[q]) * curvature.column(q))  # Δw = −(w_q / [Q^{-1}]_qq) Q^{-1} e_q
    w[q] = 0.0  # exact zero against rounding
    alive[q] = False
    curvature.downdate(q)
    return q, Lq
