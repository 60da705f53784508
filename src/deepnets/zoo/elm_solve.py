"""The output-weight solvers of an extreme learning machine: ridge in closed form, λ by GCV, LASSO.

Given the hidden outputs H (N, K) and targets Z (N, C), the output layer ẑ = H v + v₀ minimises

    ½ Σ_n ‖zⁿ − ẑⁿ‖² + λ P(v),   P(v) = ½ vᵀv (ridge),  ‖v‖₁ (LASSO),
                                  ρ ‖v‖₁ + (1 − ρ)/2 vᵀv (elastic net),

with the intercept v₀ unpenalised (H and Z are centred first, so v₀ = z̄ − vᵀh̄).

Ridge goes through the spectrum of the centred H = U S Vᵀ: v(λ) = V diag(s / (s² + λ)) Uᵀ Z_c, so a
whole grid of λ costs one decomposition. It is the symmetric eigen-decomposition of the smaller Gram
matrix, H_cᵀH_c = V S² Vᵀ (K ≤ N) or H_cH_cᵀ = U S² Uᵀ (K > N): 2-3.5× faster than the SVD of H_c at
N = 1257, K = 500..2000 on one CPU thread; squaring H costs precision only in directions with
s² < s₁² · max(N, K) · ε, which are dropped (ridge with λ > 0 shrinks them away anyway). Generalised cross-validation (Golub, Heath & Wahba 1979) picks λ:

    GCV(λ) = N ‖(I − A_λ) Z‖²_F / tr(I − A_λ)²,   A_λ = 1 1ᵀ/N + H_c (H_cᵀH_c + λI)⁻¹ H_cᵀ,

with ‖(I − A_λ) Z‖² = ‖Z_c‖² − ‖UᵀZ_c‖² + Σ_i (λ / (s_i² + λ))² ‖(UᵀZ_c)_i‖² and
tr(I − A_λ) = N − 1 − Σ_i s_i² / (s_i² + λ). LASSO and elastic net use scikit-learn's coordinate
descent (``Lasso``/``ElasticNet`` with alpha = λ/N, which has the same minimiser), or its
``LassoCV``/``ElasticNetCV`` (5-fold) when λ is not given.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError

__all__ = ["PENALTIES", "gcv_scores", "default_lambdas", "ridge_output", "sparse_output"]

#: the output-weight penalties of :meth:`deepnets.zoo.ELM.solve`
PENALTIES = ("ridge", "lasso", "elastic_net")


class _Spectrum(NamedTuple):
    """The centred ridge problem in the eigenbasis of H_c: v(λ) = back @ (s / (s² + λ) ∘ q)."""

    h_mean: Tensor  # (K,)
    z_mean: Tensor  # (C,)
    s2: Tensor  # (r,) squared singular values of H_c, 0 for the numerically null ones
    q: Tensor  # (r, C) UᵀZ_c (0 on the null directions)
    back: Tensor  # (K, r) V, the right singular vectors (0 on the null directions)
    zz: Tensor  # () ‖Z_c‖²


def _spectrum(h: Tensor, z: Tensor) -> _Spectrum:
    """Means and spectrum of the centred hidden outputs from the smaller Gram matrix, in float64."""
    h, z = h.double(), z.double()
    h_mean, z_mean = h.mean(0), z.mean(0)  # (K,), (C,)
    hc, zc = h - h_mean, z - z_mean  # (N, K), (N, C)
    N, K = hc.shape
    if K <= N:
        s2, V = torch.linalg.eigh(hc.T @ hc)  # (K,), (K, K): H_cᵀH_c = V S² Vᵀ
    else:
        s2, U = torch.linalg.eigh(hc @ hc.T)  # (N,), (N, N): H_cH_cᵀ = U S² Uᵀ
    tol = s2.abs().max().clamp_min(1e-300) * max(N, K) * torch.finfo(s2.dtype).eps
    live = s2 > tol
    s2 = torch.where(live, s2, torch.zeros_like(s2))
    inv_s = torch.where(live, 1.0 / s2.clamp_min(1e-300).sqrt(), torch.zeros_like(s2))  # (r,)
    if K <= N:
        q = inv_s[:, None] * (V.T @ (hc.T @ zc))  # (r, C) UᵀZ_c = S⁻¹ Vᵀ H_cᵀ Z_c
        back = V * live  # (K, r)
    else:
        q = (U.T @ zc) * live[:, None]  # (r, C)
        back = (hc.T @ U) * inv_s  # (K, r) V = H_cᵀ U S⁻¹
    return _Spectrum(h_mean, z_mean, s2, q, back, (zc ** 2).sum())


def default_lambdas(h: Tensor, n: int = 49) -> Tensor:
    """The default GCV grid: λ = s₁² · 10^t, t evenly from −10 to 1 (s₁ the largest singular
    value of the centred H), so the grid scales with the features."""
    s1 = torch.linalg.matrix_norm(h.double() - h.double().mean(0), ord=2)
    return _grid(float(s1), n)


def _grid(s1: float, n: int = 49) -> Tensor:
    return max(s1 ** 2, 1e-12) * torch.logspace(-10, 1, n, dtype=torch.float64)


def gcv_scores(h: Tensor, z: Tensor, lambdas) -> Tensor:
    """GCV(λ) = N ‖(I − A_λ) Z‖²_F / tr(I − A_λ)² for each λ of ``lambdas`` (inf where tr ≤ 0).

    Args:
        h: hidden outputs H (N, K).
        z: targets Z (N, C).
        lambdas: the λ ≥ 0 to score (L,).

    Returns:
        (L,) float64 scores.
    """
    return _gcv(_spectrum(h, z), h.shape[0], lambdas)


def _gcv(sp: _Spectrum, N: int, lambdas) -> Tensor:
    """GCV(λ) for each λ of ``lambdas`` from the spectrum of the centred problem on N samples."""
    if N < 2:
        raise DataError(f"choosing λ by GCV needs at least 2 samples, got {N} sample (n_samples = 1)")
    lam = torch.as_tensor(lambdas, dtype=torch.float64).reshape(-1, 1)  # (L, 1)
    if lam.numel() == 0 or (lam < 0).any() or not torch.isfinite(lam).all():
        raise DataError(f"lambdas must be a non-empty grid of finite numbers >= 0, got {lam.ravel().tolist()}")
    proj = (sp.q ** 2).sum(1)  # (r,) ‖(UᵀZ_c)_i‖²
    outside = sp.zz - proj.sum()  # the part of Z_c no λ can fit
    s2 = sp.s2  # (r,)
    shrink = torch.where(s2 > 0, lam / (s2 + lam), torch.ones_like(s2 + lam))  # (L, r) λ/(s²+λ)
    rss = outside.clamp_min(0) + (shrink ** 2 * proj).sum(1)  # (L,)
    dof = N - 1 - (1 - shrink).sum(1)  # (L,) tr(I − A_λ)
    return torch.where(dof > 0, N * rss / dof.clamp_min(1e-300) ** 2, torch.full_like(rss, float("inf")))


def ridge_output(h: Tensor, z: Tensor, lam=None, lambdas=None) -> tuple[Tensor, Tensor, float]:
    """Ridge output weights v = (H_cᵀH_c + λI)⁻¹ H_cᵀ Z_c and v₀ = z̄ − vᵀh̄, λ given or by GCV.

    Args:
        h: hidden outputs H (N, K).
        z: targets Z (N, C).
        lam: λ ≥ 0 (λ = 0: the minimum-norm least-squares fit on the directions with
            s² > s₁² · max(N, K) · ε); None picks the λ of ``lambdas``
            with the least GCV.
        lambdas: the GCV grid (default :func:`default_lambdas`).

    Returns:
        ``(v (K, C), v0 (C,), λ)`` in float64.
    """
    sp = _spectrum(h, z)  # one decomposition serves the GCV grid and the solve
    if lam is None:
        if lambdas is None:
            grid = _grid(float(sp.s2.max().sqrt()) if len(sp.s2) else 0.0)
        else:
            grid = torch.as_tensor(lambdas, dtype=torch.float64).ravel()
        scores = _gcv(sp, h.shape[0], grid)
        if not torch.isfinite(scores).any():
            raise DataError(f"GCV is undefined on every λ of the grid (tr(I − A_λ) <= 0 with N = {h.shape[0]} "
                            f"samples): give larger lambdas or a fixed lam")
        lam = float(grid[int(torch.argmin(scores))])
    elif not (isinstance(lam, (int, float)) and np.isfinite(lam) and lam >= 0):
        raise DataError(f"lam must be a finite number >= 0 or None (GCV), got {lam!r}")
    s2 = sp.s2
    f = torch.where(s2 > 0, s2.sqrt() / (s2 + lam).clamp_min(1e-300), torch.zeros_like(s2))  # (r,) s/(s²+λ)
    v = sp.back @ (f[:, None] * sp.q)  # (K, C)
    return v, sp.z_mean - sp.h_mean @ v, float(lam)


def sparse_output(h: Tensor, z: Tensor, lam=None, *, l1_ratio: float = 1.0, max_iter: int = 5000,
                  tol: float = 1e-6, seed: int = 0) -> tuple[Tensor, Tensor, np.ndarray]:
    """LASSO (ρ = 1) or elastic-net output weights by scikit-learn's coordinate descent.

    Minimises ½ ‖z_c − H_c v_c‖² + λ (ρ ‖v_c‖₁ + (1 − ρ)/2 ‖v_c‖²) for each output c separately:
    scikit-learn's ``ElasticNet(alpha=λ/N, l1_ratio=ρ)`` has the same minimiser (its cost is this
    one divided by N). λ None: ``ElasticNetCV`` (5-fold) picks λ per output.

    Returns:
        ``(v (K, C), v0 (C,), λ per output (C,))`` in float64.
    """
    from sklearn.linear_model import ElasticNet, ElasticNetCV  # heavy: imported when a sparse fit asks

    H = h.detach().double().cpu().numpy()  # (N, K): scikit-learn works on host memory
    Z = z.detach().double().cpu().numpy()  # (N, C)
    N = len(H)
    if lam is not None and not (isinstance(lam, (int, float)) and np.isfinite(lam) and lam > 0):
        raise DataError(f"lam must be a finite number > 0 or None (cross-validation) for LASSO/elastic net, got {lam!r}")
    v, v0, lams = np.zeros((H.shape[1], Z.shape[1])), np.zeros(Z.shape[1]), np.zeros(Z.shape[1])
    for c in range(Z.shape[1]):
        if lam is None:
            if N < 5:
                raise DataError(f"choosing λ by 5-fold cross-validation needs at least 5 samples, got {N}")
            est = ElasticNetCV(l1_ratio=l1_ratio, cv=5, max_iter=max_iter, tol=tol, random_state=seed)
        else:
            est = ElasticNet(alpha=lam / N, l1_ratio=l1_ratio, max_iter=max_iter, tol=tol, random_state=seed)
        est.fit(H, Z[:, c])
        v[:, c], v0[c] = est.coef_, est.intercept_
        lams[c] = est.alpha_ * N if lam is None else lam
    return torch.from_numpy(v), torch.from_numpy(v0), lams
