"""The predictive distribution of a Laplace posterior, linearised around w_MAP.

With a(x, w) ≈ a(x, w_MAP) + G(x)ᵀ (w − w_MAP) and w ~ N(w_MAP, H⁻¹), the output activations are
Gaussian: a(x) ~ N(a_MAP(x), S(x)), S(x) = G(x)ᵀ H⁻¹ G(x) (C, C). Then

- regression (the lecture's slide): z | x ~ N(ẑ(x), Σ_z), Σ_z(x) = diag(1/β) + ∇fᵀ H⁻¹ ∇f;
- one logistic output: p(1 | x) = ∫ σ(a) N(a; μ, s²) da ≈ σ(μ / √(1 + π s²/8)), the probit
  approximation σ(a) ≈ Φ(a √(π/8)) (MacKay 1992, "The evidence framework applied to
  classification networks");
- softmax over C outputs: the generalised probit / mean-field approximation
  p ≈ softmax(μ_c / √(1 + π S_cc/8)) -- each logit moderated by its own variance, the
  correlations S_cd (c ≠ d) ignored (Lu, Ie & Sha 2020, "Uncertainty estimation with infinitesimal
  jackknife ... mean-field"; Daxberger et al. 2021, "Laplace Redux", section 4). It is not
  normalised exactly; we renormalise by taking the softmax.
- Monte Carlo: average the link over samples a^(s) = a_MAP + G(x)ᵀ δ^(s), δ^(s) ~ N(0, H⁻¹).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import ConfigError


def regression_covariance(S: Tensor, beta) -> Tensor:
    """Σ_z = diag(1/β) + S, shape (N, C, C), from S = Gᵀ H⁻¹ G (N, C, C) and β (scalar or (C,))."""
    beta = torch.as_tensor(beta, dtype=S.dtype, device=S.device)
    if bool((beta <= 0).any()):
        raise ConfigError("beta (noise precision) must be > 0")
    noise = torch.diag_embed((1.0 / beta).expand(S.shape[-1]))  # (C, C)
    return S + noise


def probit(mu: Tensor, var: Tensor) -> Tensor:
    """p = σ(μ / √(1 + π s²/8)): the moderated output of one logistic unit (MacKay 1992)."""
    return torch.sigmoid(mu / torch.sqrt(1.0 + math.pi * var / 8.0))


def mean_field_softmax(mu: Tensor, S: Tensor) -> Tensor:
    """p = softmax(μ_c / √(1 + π S_cc / 8)) over the last axis; mu (N, C), S (N, C, C)."""
    var = torch.diagonal(S, dim1=-2, dim2=-1)  # (N, C)
    return torch.softmax(mu / torch.sqrt(1.0 + math.pi * var / 8.0), dim=-1)


def moderated(mu: Tensor, S: Tensor) -> Tensor:
    """Class probabilities (N, K) of the probit / mean-field approximation: K = 2 for one logistic
    output (columns p(0), p(1)), K = C for a softmax."""
    if mu.shape[-1] == 1:
        p1 = probit(mu[:, 0], S[:, 0, 0])  # (N,)
        return torch.stack([1 - p1, p1], dim=1)
    return mean_field_softmax(mu, S)


def monte_carlo(samples: Tensor) -> Tensor:
    """Class probabilities (N, K) averaged over logit samples (n, N, C), link as in :func:`moderated`."""
    if samples.shape[-1] == 1:
        p1 = torch.sigmoid(samples[..., 0]).mean(0)  # (N,)
        return torch.stack([1 - p1, p1], dim=1)
    return torch.softmax(samples, dim=-1).mean(0)  # (N, C)
