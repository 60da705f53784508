"""The output-weight solvers of an extreme learning machine: ridge in closed form, λ by GCV, LASSO.

Given the hidden outputs H (N, K) and targets Z (N, C), the output layer ẑ = H v + v₀ minimises

    ½ Σ_n ‖zⁿ − ẑⁿ‖² + λ P(v),   P(v) = ½ vᵀv (ridge),  ‖v‖₁ (LASSO),
                                  ρ ‖v‖₁ + (1 − ρ)/2 vᵀv (elastic net),

with the intercept v₀ unpenalised (H and Z are centred first, so v₀ = z̄ − vᵀh̄).

Ridge goes through the thin SVD of the centred H = U S Vᵀ: v(λ) = V diag(s / (s² + λ)) Uᵀ Z, so a
whole grid of λ costs one SVD. Generalised cross-validation (Golub, Heath & Wahba 1979) picks λ:

    GCV(λ) = N ‖(I − A_λ) Z‖²_F / tr(I − A_λ)²,   A_λ = 1 1ᵀ/N + H_c (H_cᵀH_c + λI)⁻¹ H_cᵀ,

with ‖(I − A_λ) Z‖² = ‖Z_c‖² − ‖UᵀZ_c‖² + Σ_i (λ / (s_i² + λ))² ‖(UᵀZ_c)_i‖² and
tr(I − A_λ) = N − 1 − Σ_i s_i² / (s_i² + λ). LASSO and elastic net use scikit-learn's coordinate
descent (``Lasso``/``ElasticNet`` with alpha = λ/N, which has the same minimiser), or its
``LassoCV``/``ElasticNetCV`` (5-fold) when λ is not given.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError

__all__ = ["PENALTIES", "gcv_scores", "default_lambdas", "ridge_output", "sparse_output"]

#: the output-weight penalties of :meth:`deepnets.zoo.ELM.solve`
PENALTIES = ("ridge", "lasso", "elastic_net")


def _centred_svd(h: Tensor, z: Tensor):
    """Means and thin SVD of the centred hidden outputs, in float64."""
    h, z = h.double(), z.double()
    h_mean, z_mean = h.mean(0), z.mean(0)  # (K,), (C,)
    U, s, Vh = torch.linalg.svd(h - h_mean, full_matrices=False)  # (N, r), (r,), (r, K)
    s = torch.where(s > s[0] * max(h.shape) * torch.finfo(s.dtype).eps, s, torch.zeros_like(s)) if len(s) else s
    return h_mean, z_mean, U, s, Vh, z - z_mean


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
    _, _, U, s, _, zc = _centred_svd(h, z)
    return _gcv(U, s, zc, lambdas)


def _gcv(U: Tensor, s: Tensor, zc: Tensor, lambdas) -> Tensor:
    """GCV(λ) from the thin SVD U, s of the centred H and the centred targets Z_c (N, C)."""
    N = zc.shape[0]
    if N < 2:
        raise DataError(f"choosing λ by GCV needs at least 2 samples, got {N} sample (n_samples = 1)")
    lam = torch.as_tensor(lambdas, dtype=torch.float64).reshape(-1, 1)  # (L, 1)
    if lam.numel() == 0 or (lam < 0).any() or not torch.isfinite(lam).all():
        raise DataError(f"lambdas must be a non-empty grid of finite numbers >= 0, got {lam.ravel().tolist()}")
    proj = ((U.T @ zc) ** 2).sum(1)  # (r,) ‖(UᵀZ_c)_i‖²
    outside = (zc ** 2).sum() - proj.sum()  # the part of Z_c no λ can fit
    s2 = s ** 2  # (r,)
    shrink = torch.where(s2 > 0, lam / (s2 + lam), torch.ones_like(s2 + lam))  # (L, r) λ/(s²+λ)
    rss = outside.clamp_min(0) + (shrink ** 2 * proj).sum(1)  # (L,)
    dof = N - 1 - (1 - shrink).sum(1)  # (L,) tr(I − A_λ)
    return torch.where(dof > 0, N * rss / dof.clamp_min(1e-300) ** 2, torch.full_like(rss, float("inf")))


def ridge_output(h: Tensor, z: Tensor, lam=None, lambdas=None) -> tuple[Tensor, Tensor, float]:
    """Ridge output weights v = (H_cᵀH_c + λI)⁻¹ H_cᵀ Z_c and v₀ = z̄ − vᵀh̄, λ given or by GCV.

    Args:
        h: hidden outputs H (N, K).
        z: targets Z (N, C).
        lam: λ ≥ 0 (λ = 0: the minimum-norm least-squares fit); None picks the λ of ``lambdas``
            with the least GCV.
        lambdas: the GCV grid (default :func:`default_lambdas`).

    Returns:
        ``(v (K, C), v0 (C,), λ)`` in float64.
    """
    h_mean, z_mean, U, s, Vh, zc = _centred_svd(h, z)  # one SVD serves the GCV grid and the solve
    if lam is None:
        grid = _grid(float(s[0]) if len(s) else 0.0) if lambdas is None else torch.as_tensor(lambdas, dtype=torch.float64).ravel()
        scores = _gcv(U, s, zc, grid)
        if not torch.isfinite(scores).any():
            raise DataError(f"GCV is undefined on every λ of the grid (tr(I − A_λ) <= 0 with N = {h.shape[0]} "
                            f"samples): give larger lambdas or a fixed lam")
        lam = float(grid[int(torch.argmin(scores))])
    elif not (isinstance(lam, (int, float)) and np.isfinite(lam) and lam >= 0):
        raise DataError(f"lam must be a finite number >= 0 or None (GCV), got {lam!r}")
    f = torch.where(s > 0, s / (s ** 2 + lam).clamp_min(1e-300), torch.zeros_like(s))  # (r,) s/(s²+λ)
    v = Vh.T @ (f[:, None] * (U.T @ zc))  # (K, C)
    return v, z_mean - h_mean @ v, float(lam)


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

    H = h.double().numpy()  # (N, K)
    Z = z.double().numpy()  # (N, C)
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
