"""MacKay's evidence framework: re-estimate α (per weight group, ARD) and β (per output).

The posterior over w is ∝ exp(−M(w)), M(w) = Σ_i β_i E_D,i + Σ_g α_g E_W,g with
E_D,i = ½ Σ_n (z_i^n − a_i^n)² (the ``"lms"`` likelihood; for ``"cross_entropy"`` β is absent and
E_D is the summed cross-entropy of the logits a, :func:`deepnets.losses.summed_error`) and E_W,g = ½ ‖w_g‖². With A = H_D + diag(α) at w_MAP (H_D = Σ_n G_n Λ_n G_nᵀ,
the outer-product Hessian of the data term), the evidence is stationary when

    γ_g = |g| − α_g tr_g(A⁻¹)        (well-determined parameters of group g)
    α_g = γ_g / ‖w_g‖²,    β_i = (N − γ_i) / (2 E_D,i),    γ_i = β_i tr(A⁻¹ Σ_n J_ni J_niᵀ).

With one α over all weights, γ = |g| − α tr A⁻¹ = Σ_k λ_k/(λ_k + α) over the eigenvalues λ_k of
H_D -- the lecture's formula; Σ_i γ_i = Σ_g γ_g, the same total.

Gamma hyper-priors. Put α_g ~ Gamma(a_g, b_g) and β_i ~ Gamma(c_i, d_i) (shape, rate) on the
log scale, i.e. p(ln α) ∝ α^a e^{−bα} (the density of Gamma(a, b) times the Jacobian dα/d ln α = α).
The log evidence in α_g is ½|g| ln α_g − α_g E_W,g − ½ ln|A| + const, whose α-derivative is
½(γ_g/α_g − ‖w_g‖²); adding d/dα [a ln α − bα] = a/α − b and setting the sum to zero gives

    α_g = (γ_g + 2a_g) / (‖w_g‖² + 2b_g),    β_i = (N − γ_i + 2c_i) / (2E_D,i + 2d_i).

a = b = 0 is MacKay's flat prior on ln α (scale invariant). (A Gamma density on α itself would
give 2a − 2 in place of 2a.)

Groups (:func:`ard_groups`): one α per input j over its outgoing weights W(1)[:, j] (automatic
relevance determination), one α for the first layer's biases, one α per later layer (weights
and biases).

Reference: MacKay 1992 ("A practical Bayesian framework for backprop networks", "Bayesian
interpolation"); MacKay 1995 and Neal 1996 for ARD; Bishop 1995, section 10.4.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..curvature import ParamLayout, accumulate_gauss_newton, jacobian_chunks
from ..errors import ConfigError, DataError
from ..losses import infer_likelihood, likelihood_model, likelihood_name, summed_error
from .posterior import _linear_layers

log = logging.getLogger(__name__)


def ard_groups(f: nn.Module) -> tuple[ParamLayout, list[str], list[Tensor]]:
    """``(layout, names, index)``: the flat layout of ``f``'s Linear weights and the ARD groups.

    Groups: ``input j`` = W(1)[:, j] for each input, ``bias 1`` = b(1), ``layer l`` = W(l), b(l).
    """
    layers = _linear_layers(f)
    pnames = []
    for name, m in layers:
        pre = f"{name}." if name else ""
        pnames += [f"{pre}weight"] + ([f"{pre}bias"] if m.bias is not None else [])
    trainable = {n for n, p in f.named_parameters() if p.requires_grad}
    if set(pnames) != trainable:
        raise ConfigError(f"ARD groups cover nn.Linear weights and biases only; also trainable: "
                          f"{sorted(trainable - set(pnames))}")
    layout = ParamLayout.from_module(f, pnames)
    names, index = [], []
    first_w = layout.slice(pnames[0])
    out0, in0 = layout.shapes[0]
    cols = torch.arange(first_w.start, first_w.stop).reshape(out0, in0)  # (out, in): W(1)[i, j]
    for j in range(in0):
        names.append(f"input {j}")
        index.append(cols[:, j])
    if layers[0][1].bias is not None:
        s = layout.slice(pnames[1])
        names.append("bias 1")
        index.append(torch.arange(s.start, s.stop))
    for l, (name, m) in enumerate(layers[1:], start=2):
        pre = f"{name}." if name else ""
        idx = [torch.arange(layout.slice(f"{pre}weight").start, layout.slice(f"{pre}weight").stop)]
        if m.bias is not None:
            idx.append(torch.arange(layout.slice(f"{pre}bias").start, layout.slice(f"{pre}bias").stop))
        names.append(f"layer {l}")
        index.append(torch.cat(idx))
    return layout, names, index


#: the range α is kept in (see :func:`reestimate`)
ALPHA_RANGE = (1e-10, 1e10)


def reestimate(A_inv_diag: Tensor, w: Tensor, index: list[Tensor], alpha: Tensor, *,
               a: float | Tensor = 0.0, b: float | Tensor = 0.0,
               alpha_range: tuple[float, float] = ALPHA_RANGE) -> tuple[Tensor, Tensor]:
    """One re-estimation of the group precisions: ``(alpha_new, gamma)``, each (G,).

    γ_g = |g| − α_g Σ_{k∈g} [A⁻¹]_kk;  α_g = (γ_g + 2a) / (‖w_g‖² + 2b).

    γ_g is clipped to [0, |g|] (rounding). A group the data do not determine at all
    (γ_g + 2a ≤ 1e-9 |g|: e.g. the weights of a constant input) has an evidence flat in α_g and
    the fixed point 0/‖w_g‖² is degenerate; it gets the largest α (the weights carry no
    information: irrelevant). α is kept in ``alpha_range`` so that A stays well conditioned.
    """
    gamma = torch.stack([len(g) - alpha[i] * A_inv_diag[g].sum() for i, g in enumerate(index)])  # (G,)
    sizes = torch.tensor([len(g) for g in index], dtype=gamma.dtype)
    gamma = torch.minimum(gamma.clamp_min(0), sizes)
    w2 = torch.stack([(w[g] ** 2).sum() for g in index])  # (G,)
    num = gamma + 2 * torch.as_tensor(a, dtype=gamma.dtype)
    new = num / (w2 + 2 * torch.as_tensor(b, dtype=gamma.dtype))
    new = torch.where(num <= 1e-9 * sizes, torch.full_like(new, alpha_range[1]), new)
    return new.nan_to_num(alpha_range[1]).clamp(*alpha_range), gamma


@dataclass
class EvidenceResult:
    """What :func:`evidence_ard` found: one α per group, one β per output, the γs, the history."""

    names: list[str]
    alpha: Tensor          # (G,)
    gamma: Tensor          # (G,) well-determined parameters per group
    beta: Tensor | None    # (C,) for "lms", None for "cross_entropy"
    history: list[dict] = field(default_factory=list)
    weight_alpha: Tensor | None = None  # (P,) α of each weight, in the order of the Linear layers'
    #                                     weight, bias, ...: pass as Laplace(alpha=...)

    def input_relevance(self) -> Tensor:
        """1/α_j of each input's outgoing weights (their prior variance), (n_inputs,).

        It measures the size of W(1)[:, j], not of the input's effect: a linear effect can ride on
        small first-layer weights (see :mod:`deepnets.bayes.sensitivity`); :meth:`input_gamma` and
        :func:`~deepnets.bayes.input_sensitivity` do not depend on that split."""
        return torch.stack([1.0 / self.alpha[i] for i, n in enumerate(self.names) if n.startswith("input ")])

    def input_gamma(self) -> Tensor:
        """γ_j = |g_j| − α_j tr_j(A⁻¹): how many of input j's outgoing weights the data determine, (n_inputs,)."""
        return torch.stack([self.gamma[i] for i, n in enumerate(self.names) if n.startswith("input ")])


def _data_term(likelihood: str, a: Tensor, y: Tensor, beta: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """(Σ_i β_i E_D,i or the summed cross-entropy, E_D per output or None)."""
    if likelihood == "lms":
        E = 0.5 * ((y - a) ** 2).sum(0)  # (C,)
        return (beta * E).sum(), E
    return summed_error(likelihood, a, y), None


def _map_step(f, params, x, y, likelihood, alpha_vec, beta, iters: int) -> float:
    """Minimise M(w) with full-batch L-BFGS (strong Wolfe line search) from the current weights."""
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=iters, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        w = torch.cat([p.reshape(-1) for p in params])  # (P,)
        M = _data_term(likelihood, f(x), y, beta)[0] + 0.5 * (alpha_vec * w * w).sum()
        M.backward()
        return M

    return float(opt.step(closure).detach())


def _output_traces(f, x, layout, A_inv: Tensor, chunk_size: int | None) -> Tensor:
    """tr(A⁻¹ Σ_n J_ni J_niᵀ) = Σ_n J_ni A⁻¹ J_niᵀ for each output i, (C,), a chunk of samples at a time."""
    total = 0
    for _, J, _, _ in jacobian_chunks(f, x, names=layout.names, chunk_size=chunk_size):  # J: (n, C, P)
        total = total + ((J @ A_inv) * J).sum(dim=(0, 2))  # (C,)
    return total


def evidence_ard(model: nn.Module, x: Tensor, y: Tensor, *, likelihood: str | None = None,
                 alpha: float = 1e-2, beta: float | Tensor | None = None, outer: int = 20,
                 inner: int = 200, a=0.0, b=0.0, c=0.0, d=0.0, train: bool = True,
                 chunk_size: int | None = None) -> EvidenceResult:
    """Alternate MAP training of M(w) with the re-estimation of α (ARD groups) and β (per output).

    Each outer round: (1) minimise M(w) by L-BFGS for up to ``inner`` iterations (skipped when
    ``train`` is False), (2) build A = H_D + diag(α) at w (outer-product Hessian, full), (3) update
    α_g, β_i by the formulas in the module docstring. The model's weights are changed in place.

    Args:
        model: an MLP or a module of nn.Linear layers (weights = the start of the search).
        x, y: training inputs (N, D); targets (N, C) for ``"lms"``, labels (N,) for ``"cross_entropy"``.
        likelihood: ``"lms"`` or ``"cross_entropy"``, the names of :mod:`deepnets.losses` (aliases
            ``"regression"``, ``"binary"``, ``"multiclass"``); default from the model
            (:func:`deepnets.losses.infer_likelihood`).
        alpha: initial α of every group. beta: initial β (default 1/mean squared residual at start).
        outer: re-estimation rounds. inner: L-BFGS iterations per round.
        a, b: Gamma hyper-prior (shape, rate) of every α_g (scalars or (G,)); c, d: of every β_i.
        chunk_size: samples per chunk of the per-sample Jacobian (default: at most 2²² entries a
            chunk): A and the traces of β are summed chunk by chunk, in memory independent of N.
    """
    asked = likelihood or infer_likelihood(model)
    likelihood = likelihood_name(asked)
    f = likelihood_model(model, likelihood)
    layout, names, index = ard_groups(f)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise DataError(f"expected x (N, D) and y with N rows, got {tuple(x.shape)} and {tuple(y.shape)}")
    if likelihood == "lms" and y.ndim != 2:
        raise DataError(f"regression targets must be (N, C), got {tuple(y.shape)}")
    N = x.shape[0]
    named = dict(f.named_parameters())
    params = [named[n] for n in layout.names]
    dtype = params[0].dtype
    x, y = x.to(dtype), (y.to(dtype) if likelihood == "lms" else y)
    G = len(index)
    alpha_g = torch.full((G,), float(alpha), dtype=dtype)
    if likelihood == "lms":
        with torch.no_grad():
            resid = ((y - f(x)) ** 2).mean(0)  # (C,)
        beta_t = (1.0 / resid.clamp_min(1e-12)) if beta is None else torch.as_tensor(beta, dtype=dtype).expand(y.shape[1]).clone()
    else:
        beta_t = None
    member = torch.empty(layout.numel, dtype=torch.long)
    for i, g in enumerate(index):
        member[g] = i
    history = []
    gamma = torch.zeros(G, dtype=dtype)
    for r in range(outer):
        alpha_vec = alpha_g[member]  # (P,)
        if train:
            M = _map_step(f, params, x, y, likelihood, alpha_vec, beta_t, inner)
            if not all(bool(torch.isfinite(p).all()) for p in params) or M != M:
                raise ConfigError(f"the MAP training diverged in evidence round {r + 1}; "
                                  f"start from a larger alpha (now {alpha})")
        with torch.no_grad():
            out = f(x)  # (N, C)
        A, _ = accumulate_gauss_newton(f, x, asked, names=layout.names, beta=beta_t if beta_t is not None else 1.0,
                                       chunk_size=chunk_size)  # (P, P), summed chunk by chunk
        A.diagonal().add_(alpha_vec)
        L, info = torch.linalg.cholesky_ex(A)
        if int(info) != 0:
            raise ConfigError("A = H_D + diag(alpha) is not positive definite; raise the initial alpha")
        del A
        A_inv = torch.cholesky_inverse(L)
        del L
        w = layout.flatten(named).detach()
        alpha_g, gamma = reestimate(torch.diagonal(A_inv), w, index, alpha_g, a=a, b=b)
        rec = {"round": r + 1, "gamma": float(gamma.sum())}
        if beta_t is not None:
            E = 0.5 * ((y - out) ** 2).sum(0)  # (C,)
            gamma_i = beta_t * _output_traces(f, x, layout, A_inv, chunk_size)  # (C,)
            beta_t = (N - gamma_i + 2 * torch.as_tensor(c)) / (2 * E + 2 * torch.as_tensor(d))
            rec["beta"] = beta_t.tolist()
        history.append(rec)
        log.info("evidence round %d: gamma %.3f", r + 1, rec["gamma"])
    return EvidenceResult(names, alpha_g.detach(), gamma.detach(), None if beta_t is None else beta_t.detach(),
                          history, alpha_g.detach()[member])
