"""Laplace approximations of the posterior over the weights, N(w_MAP, H⁻¹).

H = Σ_n G_n Λ_n G_nᵀ + diag(α) (the lecture's "Predictive Posterior": the outer-product Hessian
of the data term plus the prior precisions), with G_n = ∂a(x^n)/∂w and Λ_n from the likelihood
(:data:`deepnets.losses.LIKELIHOODS`). Every approximation answers three questions:

- ``fit(f, x, *, loss, outputs, beta, alpha)``: build the curvature at the training inputs;
- ``covariance(f, x)``: the output covariance G(x)ᵀ H⁻¹ G(x), shape (N, C, C);
- ``sample(n, generator)``: n draws of w − w_MAP ~ N(0, H⁻¹), shape (n, P) over ``layout``.

Registry :data:`POSTERIORS`:

- ``"full"``: H as a dense (P, P) matrix, kept as its Cholesky factor.
- ``"diagonal"``: only diag(H) (what OBD keeps; LeCun, Denker & Solla 1990).
- ``"kron"``: one Kronecker-factored block per ``nn.Linear`` layer, H_l ≈ G_l ⊗ A_l + α_l I
  (Martens & Grosse 2015; Ritter, Botev & Barber 2018), where, with the layer's weights and bias
  stacked as [W | b] (out, in+1) and flattened row by row,

  * A_l = Σ_n ã_n ã_nᵀ, ã_n = [a_n; 1] the layer's input with a 1 appended for the bias (a sum
    over the N training samples, (in+1, in+1));
  * G_l = (1/N) Σ_n B_nᵀ Λ_n B_n with B_n = ∂a(x^n)/∂s_l (C, out) the Jacobian of the outputs by
    the layer's pre-activations s_l -- taken as the Jacobian by the layer's bias, which is the
    same thing -- so G_l is the exact mean output-gradient second moment (no sampled labels).

  The product is exact when ã_n ã_nᵀ and B_nᵀ Λ_n B_n are independent over n, e.g. for a single
  linear layer with the LMS likelihood (then B_n = I). (G ⊗ A + αI)⁻¹ is applied exactly through
  the eigendecompositions of G and A. (laplace-torch 0.3 instead keeps the weight as G ⊗ A with A
  from the inputs alone and the bias as its own block, dropping the weight-bias cross terms; its
  kron variances therefore differ from ours by a few per cent -- see benchmarks/laplace_peer.py.)
  Needs every parameter to be the weight or bias of an
  ``nn.Linear`` that has a bias, and a scalar α per layer. After pruning
  (:mod:`deepnets.prune`'s masks), the masked weights are excluded: a pruned layer's block is the
  Kronecker precision restricted to its kept weights, (G_l ⊗ A_l + α_l I)[kept, kept], held dense
  as its Cholesky factor (the Kronecker shortcut does not survive the cut); its masked weights
  have no posterior spread, and G_l and A_l are those of the pruned net.
- ``"last_layer"``: the full Laplace over the last ``nn.Linear``'s weight and bias only, the
  rest held at w_MAP (Snoek et al. 2015; Kristiadi, Hein & Hennig 2020).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from ..curvature import (ParamLayout, accumulate_gauss_newton, gauss_newton_factors, jacobian_chunks,
                         per_sample_jacobian)
from ..errors import ConfigError
from .masked import kept_entries, pruned_name, restricted_block, unmasked_copy


def _as_vector(alpha, P: int, like: Tensor, f: nn.Module | None = None,
               layout: ParamLayout | None = None) -> Tensor:
    """α as a (P,) vector; a vector over all of ``f``'s trainable parameters is cut to ``layout``."""
    a = torch.as_tensor(alpha, dtype=like.dtype, device=like.device)
    if a.ndim == 1 and f is not None and a.shape[0] != P:
        full = ParamLayout.from_module(f)
        if a.shape[0] == full.numel and set(layout.names) <= set(full.names):
            a = torch.cat([a[full.slice(n)] for n in layout.names])  # (P,)
    if a.ndim > 1 or (a.ndim == 1 and a.shape[0] != P):
        raise ConfigError(f"alpha must be a scalar or a vector of length P = {P}, got shape {tuple(a.shape)}")
    if bool((a < 0).any()):
        raise ConfigError("alpha (prior precision) must be >= 0")
    return a.expand(P)


class FullPosterior:
    """Dense H = Σ G Λ Gᵀ + diag(α), stored as its Cholesky factor L (H = L Lᵀ).

    H is summed a chunk of ``chunk_size`` samples at a time
    (:func:`~deepnets.curvature.accumulate_gauss_newton`): the peak memory is H plus one chunk's
    Jacobian, whatever the number of training samples.
    """

    chunk_size: int | None = None  # samples per Jacobian chunk (None: a 32 MiB chunk); set by Laplace

    def __init__(self, names: Sequence[str] | None = None):
        self.names = None if names is None else tuple(names)

    def fit(self, f: nn.Module, x: Tensor, *, loss: str, outputs: Tensor | None, beta, alpha) -> "FullPosterior":
        H, self.layout = accumulate_gauss_newton(f, x, loss, names=self.names, beta=beta,
                                                 chunk_size=self.chunk_size)  # (P, P)
        H.diagonal().add_(_as_vector(alpha, self.layout.numel, H, f, self.layout))
        L, info = torch.linalg.cholesky_ex(H)
        if int(info) != 0:
            raise ConfigError("the posterior precision H is not positive definite: give alpha > 0")
        self.L = L
        return self

    @property
    def precision(self) -> Tensor:
        """H, (P, P)."""
        return self.L @ self.L.T

    def weight_covariance(self) -> Tensor:
        """H⁻¹, (P, P)."""
        return torch.cholesky_inverse(self.L)

    def covariance(self, f: nn.Module, x: Tensor) -> Tensor:
        out = []
        for _, J, _, _ in jacobian_chunks(f, x, names=self.layout.names, chunk_size=self.chunk_size):
            n, C, P = J.shape  # J: (n, C, P)
            V = torch.linalg.solve_triangular(self.L, J.reshape(n * C, P).T, upper=False)  # (P, n·C): L⁻¹ Gᵀ
            V = V.T.reshape(n, C, P)
            out.append(V @ V.transpose(1, 2))  # (n, C, C): G H⁻¹ Gᵀ
        return torch.cat(out)  # (N, C, C)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        eps = torch.randn(self.L.shape[0], n, generator=generator, dtype=self.L.dtype)  # (P, n)
        return torch.linalg.solve_triangular(self.L.T, eps, upper=True).T  # (n, P): L⁻ᵀ ε ~ N(0, H⁻¹)


class DiagonalPosterior:
    """H ≈ diag(Σ_k x_k²) + α from the Gauss-Newton rows (summed a chunk of samples at a time);
    H⁻¹ is its elementwise reciprocal."""

    chunk_size: int | None = None  # samples per Jacobian chunk (None: a 32 MiB chunk); set by Laplace

    def __init__(self, names: Sequence[str] | None = None):
        self.names = None if names is None else tuple(names)

    def fit(self, f, x, *, loss, outputs, beta, alpha) -> "DiagonalPosterior":
        h, self.layout = accumulate_gauss_newton(f, x, loss, names=self.names, beta=beta, diagonal=True,
                                                 chunk_size=self.chunk_size)  # (P,)
        self.h = h + _as_vector(alpha, self.layout.numel, h, f, self.layout)  # (P,)
        if bool((self.h <= 0).any()):
            raise ConfigError("a diagonal entry of the posterior precision is 0: give alpha > 0")
        return self

    def covariance(self, f, x) -> Tensor:
        out = [torch.einsum("ncp,p,ndp->ncd", J, 1.0 / self.h, J)  # (n, C, C)
               for _, J, _, _ in jacobian_chunks(f, x, names=self.layout.names, chunk_size=self.chunk_size)]
        return torch.cat(out)  # (N, C, C)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        eps = torch.randn(n, self.h.shape[0], generator=generator, dtype=self.h.dtype)  # (n, P)
        return eps / self.h.sqrt()


def _linear_layers(f: nn.Module) -> list[tuple[str, nn.Linear]]:
    layers = [(name, m) for name, m in f.named_modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ConfigError(f"this approximation needs nn.Linear layers; {type(f).__name__} has none")
    return layers


def _layer_inputs(f: nn.Module, x: Tensor, layers) -> list[Tensor]:
    with torch.no_grad():
        if hasattr(f, "layer_inputs"):  # a deepnets MLP or its LogitView: runs its layers without calling them
            return [a.detach() for a in f.layer_inputs(x)]
        inputs: list[Tensor] = []
        hooks = [m.register_forward_hook(lambda mod, inp, out: inputs.append(inp[0].detach())) for _, m in layers]
        try:
            f(x)
        finally:
            for h in hooks:
                h.remove()
    if len(inputs) != len(layers):
        raise ConfigError(f"kron needs each nn.Linear called once per forward pass; got {len(inputs)} calls "
                          f"for {len(layers)} layers")
    return inputs


class KronPosterior:
    """Per nn.Linear layer, H_l ≈ G_l ⊗ A_l + α_l I over [W | b] flattened row by row (see module doc)."""

    def fit(self, f, x, *, loss, outputs, beta, alpha) -> "KronPosterior":
        layers = _linear_layers(f)
        a = torch.as_tensor(alpha)
        if a.numel() not in (1, len(layers)):
            raise ConfigError(f"kron needs a scalar alpha or one per Linear layer ({len(layers)}), got {a.numel()} values")
        self.alpha = a.reshape(-1).expand(len(layers)).tolist()
        names, kept = [], []
        for name, m in layers:
            if m.bias is None:
                raise ConfigError(f"kron reads the output gradients from the biases: layer {name!r} has none")
            prefix = f"{name}." if name else ""
            names += [prefix + pruned_name(m, "weight", name), prefix + pruned_name(m, "bias", name)]
            kept.append(kept_entries(m))  # None, or which of [W | b] (out·(in+1),) a pruning kept
        trainable = {n for n, p in f.named_parameters() if p.requires_grad}
        if set(names) != trainable:
            raise ConfigError(f"kron covers nn.Linear weights and biases only; also trainable: {sorted(trainable - set(names))}")
        self.layout = ParamLayout.from_module(f, names)
        plain = unmasked_copy(f) if any(k is not None for k in kept) else f  # a masked bias hides B_n
        inputs = _layer_inputs(plain, x, _linear_layers(plain))  # ã without the 1: (N, in) per layer
        bias_names = [f"{name}.bias" if name else "bias" for name, _ in layers]
        Jb, bl = per_sample_jacobian(plain, x, names=bias_names)  # (N, C, Σ out): B_n of every layer
        N = Jb.shape[0]
        Xb = gauss_newton_factors(Jb, loss, outputs=outputs, beta=beta)  # (N·R, Σ out)
        self.factors = []  # per layer: (Q_G, Q_A, D), or (None, kept indices, Cholesky factor) once pruned
        for (_, m), a_in, bname, al, keep in zip(layers, inputs, bias_names, self.alpha, kept):
            a_aug = torch.cat([a_in, a_in.new_ones(N, 1)], dim=1)  # (N, in+1)
            A = a_aug.T @ a_aug  # (in+1, in+1)
            Xl = Xb[:, bl.slice(bname)]  # (N·R, out)
            G = Xl.T @ Xl / N  # (out, out)
            lG, QG = torch.linalg.eigh(G)
            lA, QA = torch.linalg.eigh(A)
            D = lG.clamp_min(0)[:, None] * lA.clamp_min(0)[None, :] + al  # (out, in+1) eigenvalues of H_l
            if bool((D <= 0).any()):
                raise ConfigError("a Kronecker block of the posterior precision is singular: give alpha > 0")
            self.factors.append((QG, QA, D) if keep is None else restricted_block(QG, QA, D, keep))
        return self

    def _augmented(self, J: Tensor) -> list[Tensor]:
        N, C, _ = J.shape
        out = []
        for i, (QG, QA, D) in enumerate(self.factors):
            wn, bn = self.layout.names[2 * i], self.layout.names[2 * i + 1]
            o, n_in = self.layout.shapes[2 * i]
            Jw = J[..., self.layout.slice(wn)].reshape(N, C, o, n_in)
            Jb = J[..., self.layout.slice(bn)].reshape(N, C, o, 1)
            out.append(torch.cat([Jw, Jb], dim=-1))  # (N, C, out, in+1)
        return out

    def covariance(self, f, x) -> Tensor:
        J, _ = per_sample_jacobian(f, x, names=self.layout.names)  # (N, C, P)
        cov = 0
        for Ja, (QG, QA, D) in zip(self._augmented(J), self.factors):
            if QG is None:  # a pruned layer: QA holds the kept indices, D the Cholesky factor L
                Jk = Ja.reshape(*Ja.shape[:2], -1)[..., QA]  # (N, C, kept)
                V = torch.linalg.solve_triangular(D, Jk.reshape(-1, Jk.shape[-1]).T, upper=False)  # L⁻¹ Jᵀ
                V = V.T.reshape(*Jk.shape)
                cov = cov + V @ V.transpose(1, 2)
                continue
            V = torch.einsum("oi,ncoj,jk->ncik", QG, Ja, QA) / D.sqrt()  # (N, C, out, in+1): Q_Gᵀ J Q_A / √D
            cov = cov + torch.einsum("ncik,ndik->ncd", V, V)  # (N, C, C)
        return cov

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        parts = []
        for i, (QG, QA, D) in enumerate(self.factors):
            if QG is None:  # a pruned layer: the kept weights ~ N(0, L⁻ᵀL⁻¹), the masked ones stay put
                o, n_in = self.layout.shapes[2 * i]
                eps = torch.randn(D.shape[0], n, generator=generator, dtype=D.dtype)
                delta = D.new_zeros(n, o * (n_in + 1))
                delta[:, QA] = torch.linalg.solve_triangular(D.T, eps, upper=True).T
                delta = delta.reshape(n, o, n_in + 1)
            else:
                eps = torch.randn(n, *D.shape, generator=generator, dtype=D.dtype) / D.sqrt()  # (n, out, in+1)
                delta = QG @ eps @ QA.T  # (n, out, in+1) ~ N(0, (G ⊗ A + αI)⁻¹)
            parts += [delta[..., :-1].reshape(n, -1), delta[..., -1]]  # W (n, out·in), b (n, out)
        return torch.cat(parts, dim=1)  # (n, P)

    def weight_covariance(self) -> Tensor:
        """The dense block-diagonal H⁻¹ (P, P) in the layout's order (for checks on small nets)."""
        P = self.layout.numel
        S = torch.zeros(P, P, dtype=self.factors[0][2].dtype)
        for i, (QG, QA, D) in enumerate(self.factors):
            o, n_in = self.layout.shapes[2 * i]
            if QG is None:  # a pruned layer: zeros outside the kept weights
                Sa = D.new_zeros(o * (n_in + 1), o * (n_in + 1))
                Sa[QA[:, None], QA[None, :]] = torch.cholesky_inverse(D)
            else:
                Q = torch.kron(QG, QA)  # (out·(in+1), out·(in+1)), row-major [W | b]
                Sa = Q @ torch.diag(1.0 / D.reshape(-1)) @ Q.T
            idx_aug = torch.arange(o * (n_in + 1)).reshape(o, n_in + 1)
            sw, sb = self.layout.slice(self.layout.names[2 * i]), self.layout.slice(self.layout.names[2 * i + 1])
            flat = torch.cat([torch.arange(sw.start, sw.stop).reshape(o, n_in),
                              torch.arange(sb.start, sb.stop).reshape(o, 1)], dim=1)  # layout index of [W | b]
            S[flat.reshape(-1)[:, None], flat.reshape(-1)[None, :]] = Sa[idx_aug.reshape(-1)][:, idx_aug.reshape(-1)]
        return S


class LastLayerPosterior(FullPosterior):
    """Full Laplace over the last nn.Linear's weight and bias; earlier weights stay at w_MAP."""

    def __init__(self):
        super().__init__(None)

    def fit(self, f, x, **kw) -> "LastLayerPosterior":
        name, m = _linear_layers(f)[-1]
        prefix = f"{name}." if name else ""
        self.names = (f"{prefix}weight",) + ((f"{prefix}bias",) if m.bias is not None else ())
        return super().fit(f, x, **kw)


#: approximation name -> class (``Laplace(approx=...)``)
POSTERIORS = {
    "full": FullPosterior,
    "diagonal": DiagonalPosterior,
    "kron": KronPosterior,
    "last_layer": LastLayerPosterior,
}
