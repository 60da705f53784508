"""The likelihoods of OBS, the Laplace posterior, the evidence and the Gauss-Newton curvature: E_D
summed over the data and the output Hessian Λ_n = L_n L_nᵀ, on the activations a that enter them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from .names import loss_name
from .outputs import logit_model

def _lms_error(a: Tensor, z: Tensor, beta: Tensor) -> Tensor:
    return 0.5 * (beta * (z.reshape(a.shape) - a) ** 2).sum()  # ½ Σ_n Σ_i β_i (z_i − a_i)²


def _cross_entropy_error(a: Tensor, z: Tensor, beta: Tensor) -> Tensor:
    if a.shape[1] == 1:  # −Σ_n [z ln σ(a) + (1 − z) ln(1 − σ(a))]
        return F.binary_cross_entropy_with_logits(a, z.reshape(a.shape).to(a.dtype), reduction="sum")
    z = z.reshape(-1).long() if z.dim() == 1 or not z.is_floating_point() else z.to(a.dtype)
    return F.cross_entropy(a, z, reduction="sum")  # −Σ_n Σ_i z_i ln softmax(a)_i


def _lms_factor(a: Tensor, beta: Tensor) -> Tensor:
    N, C = a.shape
    return torch.diag_embed(beta.sqrt().expand(N, C))  # (N, C, C): Λ_n = diag(β)


def _cross_entropy_factor(a: Tensor, beta: Tensor) -> Tensor:
    if a.shape[1] == 1:
        p = torch.sigmoid(a)  # (N, 1)
        return (p * (1 - p)).sqrt().unsqueeze(2)  # (N, 1, 1): Λ_n = p (1 − p)
    p = torch.softmax(a, dim=-1)  # (N, C)
    eye = torch.eye(a.shape[1], dtype=a.dtype, device=a.device)
    # (N, C, C): column c = √p_c (e_c − p), since Σ_c p_c (e_c − p)(e_c − p)ᵀ = diag(p) − p pᵀ
    return (eye - p.unsqueeze(2)) * p.sqrt().unsqueeze(1)


#: likelihood -> (E_D(a, z, β) summed over the data, L_n (N, C, R) with Λ_n = ∂²ℓ_n/∂a² = L_n L_nᵀ)
LIKELIHOODS = {
    "lms": (_lms_error, _lms_factor),
    "cross_entropy": (_cross_entropy_error, _cross_entropy_factor),
}


def likelihood_name(name: str, n_outputs: int | None = None) -> str:
    """:func:`loss_name` for a likelihood: ``"lms"`` or ``"cross_entropy"`` (``"lp"`` has no
    Gauss-Newton curvature: its ∂²ℓ/∂a² is unbounded at zero residual for R < 2)."""
    canonical = loss_name(name, n_outputs, what="likelihood")
    if canonical not in LIKELIHOODS:
        raise ConfigError(f"{name!r} has no likelihood curvature (Laplace, evidence, OBS): use one of "
                          f"{sorted(LIKELIHOODS)}")
    return canonical


def summed_error(likelihood: str, a: Tensor, z: Tensor, *, beta: float | Tensor = 1.0) -> Tensor:
    """E_D = −ln p(z | a) + const summed over the data, on the activations a (N, C) that enter it:
    ½ Σ β (z − a)² for ``"lms"``; the summed deviance of the logits a for ``"cross_entropy"``
    (labels (N,) or target probabilities (N, C))."""
    error, _ = LIKELIHOODS[likelihood_name(likelihood, a.shape[1])]
    return error(a, z, torch.as_tensor(beta, dtype=a.dtype, device=a.device))


def output_hessian_factor(likelihood: str, a: Tensor, *, beta: float | Tensor = 1.0) -> Tensor:
    """L_n (N, C, R) with Λ_n = ∂²ℓ_n/∂a² = L_n L_nᵀ at the activations a (N, C): diag(√β) for
    ``"lms"`` (a only gives the shape); √p_c (e_c − p) columns for the softmax, √(p(1 − p)) for one
    logistic output."""
    _, factor = LIKELIHOODS[likelihood_name(likelihood, a.shape[1])]
    return factor(a, torch.as_tensor(beta, dtype=a.dtype, device=a.device))


def likelihood_model(model: nn.Module, likelihood: str) -> nn.Module:
    """The module whose outputs a enter ``likelihood``: the outputs themselves for ``"lms"``
    (Gaussian noise around ẑ), the logits (:func:`logit_model`) for ``"cross_entropy"``."""
    return logit_model(model) if likelihood_name(likelihood) == "cross_entropy" else model
