"""The extended Kalman measurement update on covariance matrices too large for the cache.

One update needs H P (m × k from the k × k covariance) and the downdate P ← P − Gᵀ G, each of
which reads the whole of P: for a 5,000-weight global filter that is a 200 MB matrix, far beyond
the cache, and the products that stream it from memory run at under half their in-cache speed
(H P measured 10 GFLOP/s at 5,000 weights against 25 at 1,000, one thread of this project's 2-core
CPU). Two things keep the passes down:

* only the upper triangle of P is kept (P is symmetric): the downdate writes half the matrix, and
  each stored entry P_ab (a < b) serves twice in H P, as H_a P_ab and H_b P_abᵀ -- so no
  symmetrisation of the whole of P is ever needed;
* the downdate of one update is deferred: the covariance is P − U Uᵀ with U = Gᵀ (k × m) held
  beside P, and the next update subtracts U Uᵀ from a band of rows of P just before the same
  band, still in the cache, is multiplied into H P. One pass over half of P per update instead
  of two over all of it.

The rows are taken ``band`` at a time (about 2 MiB of P per band); a covariance that fits in one
band is kept whole (both triangles), as the cache holds it anyway.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import TrainingDiverged

__all__ = ["ekf_update", "band_rows", "covariance", "symmetrise_", "BAND_BYTES"]

#: bytes of P per band of rows: a band is updated and read while it stays in the cache
BAND_BYTES = 2 ** 21


def band_rows(k: int, itemsize: int = 8) -> int:
    """Rows of a k × k covariance per band: about :data:`BAND_BYTES` of it, at least 16 rows."""
    return max(16, BAND_BYTES // (k * itemsize))


def symmetrise_(P: Tensor, block: int = 256) -> Tensor:
    """P ← ½ (P + Pᵀ) in place for a stack (B, k, k), a band of ``block`` rows at a time, so the
    extra memory is B·block·k rather than a second P."""
    k = P.shape[-1]
    for a in range(0, k, block):
        b = min(a + block, k)
        D = P[:, a:b, a:b]
        D.copy_(0.5 * (D + D.transpose(1, 2)))
        if b < k:
            upper, lower = P[:, a:b, b:], P[:, b:, a:b]
            mean = 0.5 * (upper + lower.transpose(1, 2))  # (B, b-a, k-b)
            upper.copy_(mean)
            lower.copy_(mean.transpose(1, 2))
    return P


def symmetrise_blocks_(P: Tensor, band: int) -> Tensor:
    """Make the diagonal blocks that a banded P is read through (``band`` rows each) exactly
    symmetric again; the blocks above them are stored once and cannot drift apart."""
    k = P.shape[-1]
    if band >= k:
        return symmetrise_(P)
    for a in range(0, k, band):
        D = P[:, a:a + band, a:a + band]
        D.copy_(0.5 * (D + D.transpose(1, 2)))
    return P


def _downdate_and_multiply(H: Tensor, P: Tensor, U: Tensor | None, band: int) -> Tensor:
    """P ← P − U Uᵀ (upper triangle, by bands of rows) and then H P, in one pass over P; (B, m, k)."""
    B, m, k = H.shape
    if band >= k:  # P is kept whole
        if U is not None:
            P.baddbmm_(U, U.transpose(1, 2), alpha=-1.0)  # (B, k, k)
        return torch.bmm(H, P)  # (B, m, k)
    HP = H.new_zeros(B, m, k)
    for a in range(0, k, band):
        b = min(a + band, k)
        rows = P[:, a:b, a:]  # (B, b-a, k-a): the band's diagonal block and the blocks right of it
        if U is not None:
            rows.baddbmm_(U[:, a:b], U[:, a:].transpose(1, 2), alpha=-1.0)
        HP[:, :, a:].baddbmm_(H[:, :, a:b], rows)  # H_a P_ab for b ≥ a
        if b < k:
            HP[:, :, a:b].baddbmm_(H[:, :, b:], rows[:, :, b - a:].transpose(1, 2))  # H_b P_baᵀ
    return HP


def covariance(P: Tensor, U: Tensor | None = None, band: int | None = None) -> Tensor:
    """The covariance a (B, k, k) buffer and its deferred downdate U (B, k, m) stand for, whole:
    the upper triangle mirrored (when P is banded) less U Uᵀ; a new tensor."""
    k = P.shape[-1]
    band = band_rows(k, P.element_size()) if band is None else band
    full = P.clone() if band >= k else P.triu() + P.triu(1).transpose(1, 2)
    if U is not None:
        full.baddbmm_(U, U.transpose(1, 2), alpha=-1.0)
    return full


def ekf_update(H: list[Tensor], P: list[Tensor], e: Tensor, r: float, q: list[Tensor] | None = None,
               U: list[Tensor | None] | None = None, band: int | None = None) -> tuple[list[Tensor], list[Tensor]]:
    """One (decoupled) extended Kalman measurement update, the covariances changed in place.

    With S = r I + Σ_i H_i P_i H_iᵀ = L Lᵀ (Cholesky) and G_i = L⁻¹ H_i P_i:

        Δw_i = P_i H_iᵀ S⁻¹ e = G_iᵀ L⁻¹ e,    P_i ← P_i − G_iᵀ G_i (+ diag q_i)

    which is K_i = P_i H_iᵀ S⁻¹, P_i ← P_i − K_i H_i P_i + Q_i of Singhal & Wu 1989 / Puskorius &
    Feldkamp 1991. Each covariance is held as a buffer P_i less a deferred downdate U_i U_iᵀ (see
    the module docstring): this call subtracts the U_i it is given while it computes H_i P_i, and
    returns the new U_i = G_iᵀ instead of subtracting it. Q goes onto the diagonal. No second
    P-sized matrix is made; the work is O(m Σ_i k_i²): about 3·m·k² flops per group (2·m·k² for
    H P, m·k² for the downdate of the upper triangle).

    Args:
        H: per stack, the Jacobian columns of its groups, (B, m, k) (B groups of k weights).
        P: per stack, the covariance buffers, (B, k, k); updated in place. Only the upper
            triangle is read and written when k is over one band.
        e: the innovation z − ẑ, (m,).
        r: the measurement noise, R = r I.
        q: per stack, the process noise diagonal (B, k) added after the update, or None.
        U: per stack, the downdate deferred by the previous update (B, k, m') or None.
        band: rows of P per band; None takes :func:`band_rows`.

    Returns:
        per stack the weight change Δw (B, k), and per stack the deferred downdate (B, k, m).
    """
    m = e.numel()
    U = U if U is not None else [None] * len(P)
    HP = [_downdate_and_multiply(h, p, u, band_rows(p.shape[-1], p.element_size()) if band is None else band)
          for h, p, u in zip(H, P, U)]  # (B, m, k) = H_i P_i
    S = torch.zeros(m, m, dtype=e.dtype, device=e.device)
    for h, hp in zip(H, HP):
        B, _, k = h.shape
        S.addmm_(hp.transpose(0, 1).reshape(m, B * k), h.transpose(0, 1).reshape(m, B * k).T)
    S.diagonal().add_(r)
    L, info = torch.linalg.cholesky_ex(S)
    if info.item() != 0:
        raise TrainingDiverged("the Kalman innovation covariance R + H P Hᵀ is not positive definite: "
                                 "P has lost its positive definiteness (raise q or r)")
    v = torch.linalg.solve_triangular(L, e.unsqueeze(1), upper=False)  # (m, 1) = L⁻¹ e
    dw, U_new = [], []
    for i, (hp, p) in enumerate(zip(HP, P)):
        B, _, k = hp.shape
        G = torch.linalg.solve_triangular(L, hp.transpose(0, 1).reshape(m, B * k), upper=False)
        G = G.reshape(m, B, k).transpose(0, 1)  # (B, m, k) = L⁻¹ H_i P_i
        dw.append(torch.einsum("bmk,m->bk", G, v[:, 0]))
        U_new.append(G.transpose(1, 2))  # (B, k, m): P_i − G_iᵀ G_i, deferred
        if q is not None:
            p.diagonal(dim1=1, dim2=2).add_(q[i])
    return dw, U_new
