"""The lecture's ARD objective l(α, β), minimised by gradient over ln α and ln β.

At the MAP weights of J(w) = ½ Σ_n Σ_i β_i (z_i^n − f_i(x^n, w))² + ½ wᵀ diag(α) w the posterior
is N(w_MAP, H⁻¹) with the Gauss-Newton Hessian H = Σ_n G_nᵀ diag(β) G_n + diag(α) (G_n the (C, P)
Jacobian of the outputs at x^n), and the predictive covariance at x^n is
Σ_z(x^n) = diag(1/β) + G_n H⁻¹ G_nᵀ. The lecture's slide ("ARD via regression"), with Gamma
hyper-priors α_j ~ Ga(a_j, b_j), β_i ~ Ga(c_i, d_i) (shape, rate; densities on α and β), writes

    l(α, β) = ½ Σ_n { ln|Σ_z(x^n)| + r_nᵀ Σ_z(x^n)⁻¹ r_n } − Σ_j [(a_j − 1) ln α_j − b_j α_j]
              − Σ_i [(c_i − 1) ln β_i − d_i β_i],        r_n = z^n − f(x^n, w_MAP)     ("lecture")

(here plus the constant ½NC ln 2π, so that without the hyper-prior terms l is the negative log of
the training targets' predictive densities). It is *not* the log evidence: each Σ_z holds the
posterior's H⁻¹ (not the prior's) and the samples are taken one by one (no covariance between
them); for Bayesian linear regression it is the sum of the in-sample posterior predictive
densities. It has no Occam factor: once α is small against the data's curvature l is flat in it, so without
a hyper-prior the α of used inputs drift towards 0 (a Gamma hyper-prior with a > 1 keeps α off 0). The log evidence (MacKay 1992; Tipping 2001, eq. 7 for ARD), under the same
hyper-priors, is

    l_ev(α, β) = J(w_MAP) + ½ ln|H| − ½ Σ_p ln α_p − ½ N Σ_i ln β_i + ½NC ln 2π − [hyper-priors]
                                                                                     ("evidence")

which for a linear model is −ln N(z; 0, diag(1/β) + Φ diag(α)⁻¹ Φᵀ) exactly, and whose stationary
points are the fixed points of MacKay's re-estimation (:func:`deepnets.bayes.evidence_ard`, whose
hyper-prior exponents are a − 1 and c − 1 of these: it puts the Gamma density on ln α).

w_MAP depends on (α, β). Both objectives are evaluated in the network linearised at the current
weights w₀ with w_MAP(α, β) = w₀ − H⁻¹ ∇J(w₀) (one Gauss-Newton step): at the MAP the step is zero
and its derivative is the implicit derivative dw_MAP/dθ = −H⁻¹ ∂∇J/∂θ, so autograd through the
Cholesky factor of H gives the whole gradient; for a linear model the step is exact everywhere.
:func:`gradient_ard` alternates MAP re-fits of w (as MacKay does) with L-BFGS on θ = (ln α, ln β).

Reference: the lecture's slide on ARD via regression; MacKay 1992 ("Bayesian interpolation") and
1995 (ARD); Neal 1996 (ARD hyper-priors); Tipping 2001 (the relevance vector machine's marginal
likelihood with Gamma hyper-priors); Bishop 2006, section 3.5 and 5.7.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..curvature import per_sample_jacobian
from ..errors import ConfigError, DataError
from ..losses import infer_likelihood, likelihood_model, likelihood_name
from .evidence import ALPHA_RANGE, EvidenceResult, _map_step, ard_groups

log = logging.getLogger(__name__)

#: the largest Jacobian (N × C × P numbers) :func:`gradient_ard` holds (400 MiB in float64)
MAX_JACOBIAN = 50_000_000


@dataclass
class Linearisation:
    """The network at w₀: per-sample Jacobians G (N, C, P), residuals r = z − f(x, w₀) (N, C),
    the weights w₀ (P,) and the ARD group of each weight ``member`` (P,)."""

    G: Tensor
    r: Tensor
    w: Tensor
    member: Tensor


def _lecture_nll(G: Tensor, r: Tensor, w: Tensor, alpha_w: Tensor, beta: Tensor, L: Tensor) -> Tensor:
    """½ Σ_n [ln|Σ_z(x^n)| + r_nᵀ Σ_z⁻¹ r_n] + ½NC ln 2π, Σ_z = diag(1/β) + G_n H⁻¹ G_nᵀ."""
    N, C, P = G.shape
    X = torch.linalg.solve_triangular(L, G.reshape(N * C, P).T, upper=False).reshape(P, N, C)  # L⁻¹ G_nᵀ
    S = torch.einsum("pnc,pnd->ncd", X, X) + torch.diag_embed((1.0 / beta).expand(N, C))  # (N, C, C)
    Ls = torch.linalg.cholesky(S)  # (N, C, C)
    u = torch.linalg.solve_triangular(Ls, r.unsqueeze(-1), upper=False)  # (N, C, 1)
    logdet = 2 * torch.log(torch.diagonal(Ls, dim1=-2, dim2=-1)).sum()
    return 0.5 * (logdet + (u ** 2).sum()) + 0.5 * N * C * math.log(2 * math.pi)


def _evidence_nll(G: Tensor, r: Tensor, w: Tensor, alpha_w: Tensor, beta: Tensor, L: Tensor) -> Tensor:
    """J(w_MAP) + ½ ln|H| − ½ Σ ln α_p − ½ N Σ ln β_i + ½NC ln 2π = −ln p(z | α, β)."""
    N, C, _ = G.shape
    J = 0.5 * (beta * (r ** 2).sum(0)).sum() + 0.5 * (alpha_w * w * w).sum()
    logdet_H = 2 * torch.log(torch.diagonal(L)).sum()
    return (J + 0.5 * logdet_H - 0.5 * torch.log(alpha_w).sum() - 0.5 * N * torch.log(beta).sum()
            + 0.5 * N * C * math.log(2 * math.pi))


#: the objectives :func:`ard_objective` minimises, by name
OBJECTIVES = {"lecture": _lecture_nll, "evidence": _evidence_nll}


def ard_objective(lin: Linearisation, log_alpha: Tensor, log_beta: Tensor, *, objective: str = "lecture",
                  a=1.0, b=0.0, c=1.0, d=0.0) -> Tensor:
    """l(ln α, ln β) of the module docstring in the network linearised at w₀, differentiable.

    Args:
        lin: the :class:`Linearisation` at w₀.
        log_alpha: ln α per ARD group, (K,). log_beta: ln β per output, (C,).
        objective: ``"lecture"`` (the slide's predictive form) or ``"evidence"`` (−ln p(z | α, β)).
        a, b: Gamma(a, b) hyper-prior of each α (scalars or (K,)); c, d: of each β (scalars or (C,)).
            a = c = 1, b = d = 0 (the default) leaves the hyper-prior terms out.
    """
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown ARD objective {objective!r}; expected one of {sorted(OBJECTIVES)}")
    G, r0, w0 = lin.G, lin.r, lin.w  # (N, C, P), (N, C), (P,)
    alpha, beta = log_alpha.exp(), log_beta.exp()  # (K,), (C,)
    alpha_w = alpha[lin.member]  # (P,)
    H = torch.einsum("ncp,c,ncq->pq", G, beta, G) + torch.diag(alpha_w)  # (P, P)
    L, info = torch.linalg.cholesky_ex(H)
    if int(info) != 0:
        raise ConfigError(f"H = G'diag(beta)G + diag(alpha) is not positive definite at alpha in "
                          f"[{float(alpha.min()):.3g}, {float(alpha.max()):.3g}], beta {beta.detach().tolist()}; "
                          f"give alpha a Gamma hyper-prior with a > 1 (the lecture's l drives alpha to 0)")
    grad = -torch.einsum("ncp,c,nc->p", G, beta, r0) + alpha_w * w0  # ∇_w J(w₀), (P,)
    step = torch.cholesky_solve(grad.unsqueeze(1), L).squeeze(1)  # H⁻¹ ∇J, (P,)
    w = w0 - step  # w_MAP(α, β) of the linearised network
    r = r0 + G @ step  # z − f(x, w_MAP), (N, C)
    nll = OBJECTIVES[objective](G, r, w, alpha_w, beta, L)
    prior = ((a - 1) * log_alpha - b * alpha).sum() + ((c - 1) * log_beta - d * beta).sum()
    return nll - prior


def linearise(f: nn.Module, x: Tensor, y: Tensor, layout, member: Tensor) -> Linearisation:
    """The :class:`Linearisation` of ``f`` (its ARD ``layout``) at its current weights."""
    G, _ = per_sample_jacobian(f, x, names=layout.names)  # (N, C, P)
    with torch.no_grad():
        r = y - f(x)  # (N, C)
    return Linearisation(G, r, layout.flatten(dict(f.named_parameters())).detach(), member)


def _fit_theta(lin: Linearisation, theta: Tensor, K: int, objective: str, hyper: dict, steps: int,
               delta: float) -> float:
    """Minimise l over θ = (ln α, ln β) at a fixed linearisation by L-BFGS, within θ₀ ± ``delta``.

    θ = θ₀ + δ tanh(u) (u from 0): the linearised network is trusted near w₀ only, and a free
    first step along −∇l from a small α can jump into the flat basin where every α is huge and the
    data are all noise (a local minimum of the ARD evidence, Tipping 2001). The map is one-to-one,
    so a stationary point inside the box is one of l. ln α stays in ALPHA_RANGE.
    """
    lo, hi = (math.log(v) for v in ALPHA_RANGE)
    theta0 = theta.detach().clone()
    u = torch.zeros_like(theta0, requires_grad=True)
    opt = torch.optim.LBFGS([u], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-9, tolerance_change=1e-12)

    def value(t: Tensor) -> Tensor:
        return ard_objective(lin, t[:K].clamp(lo, hi), t[K:], objective=objective, **hyper)

    def closure():
        opt.zero_grad()
        l = value(theta0 + delta * torch.tanh(u))
        l.backward()
        return l

    opt.step(closure)
    with torch.no_grad():
        theta.copy_(theta0 + delta * torch.tanh(u))
        theta[:K].clamp_(lo, hi)
        return float(value(theta))


def gradient_ard(model: nn.Module, x: Tensor, y: Tensor, *, objective: str = "lecture", alpha: float = 1e-2,
                 beta: float | Tensor | None = None, outer: int = 20, inner: int = 200, steps: int = 100,
                 delta: float = math.log(10), a=1.0, b=0.0, c=1.0, d=0.0, train: bool = True) -> EvidenceResult:
    """ARD by gradient: alternate MAP training of J(w) with L-BFGS on l(ln α, ln β).

    Each outer round: (1) minimise J(w) by L-BFGS for up to ``inner`` iterations (skipped when
    ``train`` is False), (2) linearise the network at w (per-sample Jacobians G), (3) minimise
    :func:`ard_objective` over (ln α, ln β) for up to ``steps`` L-BFGS iterations. Groups as in
    :func:`deepnets.bayes.ard_groups` (one α per input's outgoing weights). Regression (``"lms"``)
    only. The model's weights are changed in place.

    Args:
        model: an MLP or a module of nn.Linear layers with outputs of their own (no softmax).
        x, y: inputs (N, D) and targets (N, C).
        objective: ``"lecture"`` (the slide's l) or ``"evidence"`` (the log evidence, MacKay's).
        alpha: initial α of every group. beta: initial β (default 1/mean squared residual, at the
            start and again after the first MAP fit).
        outer: rounds. inner: L-BFGS iterations of w per round. steps: L-BFGS iterations of θ per round.
        delta: the most ln α and ln β move in one round (default ln 10: α, β change at most 10×
            a round; the weights are re-fitted before the next).
        a, b, c, d: the Gamma hyper-priors α ~ Ga(a, b), β ~ Ga(c, d) (shape, rate); a = c = 1,
            b = d = 0 (the default) is no hyper-prior.

    Returns:
        an :class:`~deepnets.bayes.EvidenceResult`; γ_g = |g| − α_g tr_g(H⁻¹) at the end; each
        history row holds the objective after its round.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(40, 2, generator=g, dtype=torch.float64)
    >>> z = x[:, :1] + 0.1 * torch.randn(40, 1, generator=g, dtype=torch.float64)
    >>> r = gradient_ard(torch.nn.Linear(2, 1, dtype=torch.float64), x, z, objective="evidence", outer=3)
    >>> bool(r.alpha[1] > r.alpha[0])  # the second input carries nothing
    True
    """
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown ARD objective {objective!r}; expected one of {sorted(OBJECTIVES)}")
    likelihood = likelihood_name(infer_likelihood(model))
    if likelihood != "lms":
        raise ConfigError(f"gradient ARD is for regression (the lecture's l(alpha, beta) has Gaussian "
                          f"outputs); this model's likelihood is {likelihood!r}: use evidence_ard")
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise DataError(f"expected x (N, D) and targets y (N, C), got {tuple(x.shape)} and {tuple(y.shape)}")
    f = likelihood_model(model, likelihood)
    layout, names, index = ard_groups(f)
    size = x.shape[0] * y.shape[1] * layout.numel
    if size > MAX_JACOBIAN:
        raise ConfigError(f"gradient ARD holds the N x C x P Jacobian: {size:,} numbers, more than "
                          f"{MAX_JACOBIAN:,}; use evidence_ard (MacKay's re-estimation sums it in chunks)")
    named = dict(f.named_parameters())
    params = [named[n] for n in layout.names]
    dtype = params[0].dtype
    x, y = x.to(dtype), y.to(dtype)
    K = len(index)
    member = torch.empty(layout.numel, dtype=torch.long)
    for i, g in enumerate(index):
        member[g] = i
    if beta is None:
        with torch.no_grad():
            beta_t = 1.0 / ((y - f(x)) ** 2).mean(0).clamp_min(1e-12)  # (C,)
    else:
        beta_t = torch.as_tensor(beta, dtype=dtype).expand(y.shape[1]).clone()
    theta = torch.cat([torch.full((K,), math.log(alpha), dtype=dtype), beta_t.log()]).requires_grad_()
    hyper = {"a": a, "b": b, "c": c, "d": d}
    history = []
    for r in range(outer):
        alpha_g, beta_t = theta[:K].detach().exp(), theta[K:].detach().exp()
        if train:
            M = _map_step(f, params, x, y, "lms", alpha_g[member], beta_t, inner)
            if not all(bool(torch.isfinite(p).all()) for p in params) or M != M:
                raise ConfigError(f"the MAP training diverged in ARD round {r + 1}; start from a larger "
                                  f"alpha (now {alpha})")
        if r == 0 and beta is None:  # β from the residuals of the first MAP weights, not of the start
            with torch.no_grad():
                theta[K:] = -((y - f(x)) ** 2).mean(0).clamp_min(1e-12).log()
        lin = linearise(f, x, y, layout, member)
        value = _fit_theta(lin, theta, K, objective, hyper, steps, delta)
        history.append({"round": r + 1, "objective": value, "beta": theta[K:].detach().exp().tolist()})
        log.info("gradient ARD round %d: l = %.6g", r + 1, value)
    alpha_g, beta_t = theta[:K].detach().exp(), theta[K:].detach().exp()
    H = torch.einsum("ncp,c,ncq->pq", lin.G, beta_t, lin.G) + torch.diag(alpha_g[member])  # (P, P)
    H_inv_diag = torch.diagonal(torch.cholesky_inverse(torch.linalg.cholesky(H)))  # (P,)
    gamma = torch.stack([len(g) - alpha_g[i] * H_inv_diag[g].sum() for i, g in enumerate(index)])  # (K,)
    return EvidenceResult(names, alpha_g, gamma, beta_t, history, alpha_g[member])
