"""The outer-product (Gauss-Newton) Hessian Q ≈ Σ_n G_n Λ_n G_n^T.

For a loss E = Σ_n ℓ(a^n) of the activations a that enter the likelihood (the outputs for LMS,
the logits for cross-entropy) the Hessian is Σ_n G_n (∂²ℓ/∂a²) G_n^T + Σ_n Σ_i (∂ℓ/∂a_i) ∇²_w a_i;
the outer-product approximation keeps the first term, which is positive semi-definite. Λ_n comes
from the one loss vocabulary (:mod:`deepnets.losses`), by the names fit takes:

- ``"lms"`` (alias ``"mse"``), ℓ = ½ Σ_i β_i (z_i − a_i)²:           Λ_n = diag(β)
- ``"cross_entropy"`` on C > 1 logits, p = softmax(a):               Λ_n = diag(p) − p p^T
- ``"cross_entropy"`` on one logit (alias ``"bce"``), p = σ(a):       Λ_n = p (1 − p)

Each Λ_n is written as L_n L_n^T, so Q = Σ_k x_k x_k^T over the rows x = L^T G^T -- the form the
Woodbury recursion consumes. For softmax L_n[:, c] = √p_c (e_c − p), since
Σ_c p_c (e_c − p)(e_c − p)^T = diag(p) − p p^T.

>>> import torch
>>> J = torch.randn(4, 3, 5)  # (N, C, P)
>>> Q = gauss_newton(J, "lms")
>>> torch.allclose(Q, torch.einsum('ncp,ncq->pq', J, J), atol=1e-6)
True
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import Tensor

from torch import nn

from ..errors import ConfigError, DataError
from ..losses import likelihood_name, output_hessian_factor
from .jacobian import jacobian_chunks
from .params import ParamLayout


def gauss_newton_factors(J: Tensor, loss: str = "lms", *, outputs: Tensor | None = None,
                         beta: float | Tensor = 1.0) -> Tensor:
    """Rows x_k with Q = Σ_k x_k x_k^T, shape (N·R, P): x = L_n^T J_n for each sample.

    Args:
        J: per-sample Jacobian (N, C, P) of the activations a (the logits for cross-entropy).
        loss: ``"lms"`` (alias ``"mse"``: LMS with precisions β) or ``"cross_entropy"`` (softmax
            over C > 1 logits, a sigmoid on one); :data:`deepnets.losses.ALIASES` for old names.
        outputs: the activations a (N, C) at which J was taken; needed for cross-entropy.
        beta: output precision β_i = 1/σ_i² (scalar or (C,)); used by ``"lms"`` only.

    Reference: Hassibi & Stork 1993, eq. 8.
    """
    if J.ndim != 3:
        raise DataError(f"expected a Jacobian of shape (N, C, P), got {tuple(J.shape)}")
    N, C, _ = J.shape
    if outputs is None:
        if likelihood_name(loss, C) != "lms":
            raise ConfigError("cross-entropy curvature needs the logits: pass outputs=")
        outputs = J.new_zeros(N, C)  # LMS: Λ_n = diag(β) does not depend on a
    L = output_hessian_factor(loss, outputs.reshape(N, C).to(J.dtype), beta=beta)  # (N, C, R)
    X = torch.einsum("ncr,ncp->nrp", L, J)  # (N, R, P)
    return X.reshape(-1, J.shape[-1])  # (N·R, P)


def gauss_newton(J: Tensor, loss: str = "lms", *, outputs: Tensor | None = None,
                 beta: float | Tensor = 1.0, alpha: float | Tensor = 0.0) -> Tensor:
    """Outer-product Hessian Q = Σ_n G_n Λ_n G_n^T + diag(α), shape (P, P).

    Args:
        J, loss, outputs, beta: as in :func:`gauss_newton_factors`.
        alpha: prior precision added to the diagonal (scalar or (P,)), the lecture's Diag(α_j).

    Reference: Hassibi & Stork 1993, eq. 8 (outer-product approximation); MacKay 1992.
    """
    X = gauss_newton_factors(J, loss, outputs=outputs, beta=beta)  # (K, P)
    Q = X.T @ X  # (P, P)
    alpha = torch.as_tensor(alpha, dtype=Q.dtype, device=Q.device)
    return Q + torch.diag(alpha.expand(Q.shape[0]))


def accumulate_gauss_newton(model: nn.Module, x: Tensor, loss: str = "lms", *,
                            names: Iterable[str] | None = None, beta: float | Tensor = 1.0,
                            diagonal: bool = False, chunk_size: int | None = None,
                            dtype: torch.dtype | None = None) -> tuple[Tensor, ParamLayout]:
    """Q = Σ_n G_n Λ_n G_n^T of ``model`` at the inputs ``x``, summed a chunk of samples at a time.

    The same matrix as ``gauss_newton(per_sample_jacobian(model, x)[0], loss, outputs=model(x))``
    (to rounding: the sum runs in another order), but only one chunk's Jacobian (n, C, P) and rows
    (n·R, P) are alive at a time (:func:`~deepnets.curvature.jacobian.jacobian_chunks`): the peak
    memory is Q plus one chunk, whatever the number of samples N.

    Args:
        model: the network whose outputs are the activations a of the likelihood (the logits for
            cross-entropy: :func:`deepnets.losses.likelihood_model`).
        x: inputs (N, ...).
        loss, beta: as in :func:`gauss_newton_factors`.
        names: the parameters (default: every trainable one).
        diagonal: return only diag(Q) (P,) (what OBD and the diagonal Laplace keep).
        chunk_size: samples per chunk (default: a chunk's Jacobian of at most 2²² numbers).
        dtype: the dtype Q is accumulated in (default the parameters'); ``torch.float64`` gives a
            float32 network a curvature that can be factorised without rounding trouble.

    Returns:
        ``(Q, layout)``: Q (P, P), or (P,) with ``diagonal``; ``layout`` maps P to named tensors.

    Reference: Hassibi & Stork 1993, eq. 8; MacKay 1992.
    """
    Q, layout = None, None
    for _, J, a, layout in jacobian_chunks(model, x, names=names, chunk_size=chunk_size):
        X = gauss_newton_factors(J, loss, outputs=a, beta=beta)  # (n·R, P)
        del J
        if dtype is not None:
            X = X.to(dtype)
        if Q is None:
            P = X.shape[1]
            Q = X.new_zeros(P) if diagonal else X.new_zeros(P, P)
        if diagonal:
            Q.add_((X * X).sum(0))
        else:
            Q.addmm_(X.T, X)  # (P, P) += X^T X, in place
    return Q, layout


def make_positive_definite(Q: Tensor, mu: float | None = None, *, rel: float = 1e-6
                           ) -> tuple[Tensor, float]:
    """Q + μI, with μ chosen so that the sum is positive definite when ``mu`` is None.

    The lecture: "Add μI if Q is not positive definite". With ``mu=None``, Q is returned as is
    when its Cholesky factorisation succeeds; otherwise μ = −λ_min(Q) + rel·max|λ| (grown
    tenfold until the Cholesky factorisation succeeds).

    Returns:
        ``(Q + μI, μ)``.
    """
    P = Q.shape[0]
    eye = torch.eye(P, dtype=Q.dtype, device=Q.device)
    if mu is not None:
        if mu < 0 or not math.isfinite(mu):
            raise ConfigError(f"mu must be a finite number >= 0, got {mu}")
        return Q + mu * eye, float(mu)
    _, info = torch.linalg.cholesky_ex(Q)
    if int(info) == 0:
        return Q, 0.0
    lam = torch.linalg.eigvalsh(Q)  # ascending
    scale = float(lam.abs().max()) or 1.0
    mu = max(float(-lam[0]), 0.0) + rel * scale
    while int(torch.linalg.cholesky_ex(Q + mu * eye)[1]) != 0:  # rounding: grow until it holds
        mu *= 10.0
    return Q + mu * eye, mu
