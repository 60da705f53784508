"""The inverse curvatures the pruning loop runs on, built from a model and its data.

Q is the outer-product (Gauss-Newton) Hessian of the summed error E at the current weights,

    Q = Σ_n G_n Λ_n G_n^T + N α I        (α added to the *mean* outer product (1/N) Σ_n G_n Λ_n G_n^T,
                                          Hassibi & Stork's H_0 = α I of their H = (1/P) Σ X X^T)

so that α means the same whatever N is, and the saliencies L_q = w_q²/(2[Q^{-1}]_qq) are increases
of the summed E. Q is summed a chunk of samples at a time (:func:`deepnets.curvature.
accumulate_gauss_newton`, memory independent of N) and built and factorised in **float64** whatever
the network's dtype: a float32 network gets the same Cholesky factorisation as a float64 one (no
jitter is added; if Q + NαI is still not positive definite in float64 the error says to raise α).

Builders (``CURVATURES``; each returns the inverse-curvature strategy of :mod:`.obs` on the
weights still alive):

- ``"full"`` -- Q⁻¹ by a Cholesky factorisation of Q restricted to the alive weights (OBS);
- ``"woodbury"`` -- the same Q⁻¹ by Hassibi & Stork's rank-one recursion (their eq. 10; the rows
  are built whole, so meant for small nets);
- ``"hessian"`` -- the exact Hessian ∇²E (``torch.func.hessian``) + NαI, + μI when not positive
  definite (small nets);
- ``"diagonal"`` -- diag(Q) + Nα: OBD;
- ``"identity"`` -- Q = I: magnitude pruning (needs neither data nor derivatives).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call, hessian

from ..curvature import (ParamLayout, accumulate_gauss_newton, gauss_newton_factors,
                         make_positive_definite, per_sample_jacobian, woodbury_inverse)
from ..errors import ConfigError
from ..losses import summed_error
from .obs import DiagonalInverse, FullInverse

log = logging.getLogger(__name__)

#: the default rebuild rule (``recompute_every="auto"``): Q is rebuilt at the current weights after
#: every removal when at most this many weights are pruned (Hassibi & Stork's protocol) ...
REBUILD_EACH_UP_TO = 200
#: ... and above that after every ⌈REBUILD_FRACTION · P⌉ removals (20 rebuilds over a whole run)
REBUILD_FRACTION = 0.05


def rebuild_interval(recompute_every, P: int) -> int | None:
    """Removals between rebuilds of Q: ``"auto"`` → 1 for P ≤ 200, else ⌈0.05 P⌉; None: never."""
    if recompute_every == "auto":
        return 1 if P <= REBUILD_EACH_UP_TO else math.ceil(REBUILD_FRACTION * P)
    if recompute_every is not None and (isinstance(recompute_every, bool) or not isinstance(recompute_every, int)
                                        or recompute_every < 1):
        raise ConfigError(f"recompute_every must be 'auto', None or an integer >= 1, got {recompute_every!r}")
    return recompute_every


@dataclass
class Problem:
    """What the curvature builders need: the model, the data and the flat layout of w."""

    model: nn.Module         # the activations a the likelihood takes: the outputs, or the logits
    x: Tensor | None
    z: Tensor | None
    orig: list[str]          # named_parameters keys of the pruned tensors
    layout: ParamLayout
    loss: str
    beta: Tensor
    chunk_size: int | None = None

    def gauss_newton(self, diagonal: bool = False) -> Tensor:
        """Σ_n G_n Λ_n G_n^T (P, P) (or its diagonal (P,)) at the current weights, in float64."""
        Q, _ = accumulate_gauss_newton(self.model, self.x, self.loss, names=self.orig, beta=self.beta,
                                       diagonal=diagonal, chunk_size=self.chunk_size, dtype=torch.float64)
        return Q

    def rows(self) -> Tensor:
        """Gauss-Newton rows X (K, P) with Q = X^T X, built whole (for the Woodbury recursion)."""
        J, _ = per_sample_jacobian(self.model, self.x, names=self.orig)  # (N, C, P)
        with torch.no_grad():
            out = self.model(self.x).reshape(J.shape[0], J.shape[1])
        return gauss_newton_factors(J, self.loss, outputs=out, beta=self.beta).double()  # (K, P)

    def hessian(self) -> Tensor:
        """The exact Hessian ∇²_w E (P, P) at the current weights (torch.func.hessian), float64."""
        params = dict(self.model.named_parameters())
        w0 = self.layout.flatten([params[n].detach() for n in self.orig])
        E = lambda w: summed_error(
            self.loss, functional_call(self.model, self.layout.unflatten(w), (self.x,)), self.z, beta=self.beta)
        return hessian(E)(w0).double()


def _restricted(Q: Tensor, alive: Tensor) -> Tensor:
    """Q restricted to the weights still present (Q itself when all are)."""
    if bool(alive.all()):
        return Q
    idx = alive.nonzero().squeeze(1)
    return Q.index_select(0, idx).index_select(1, idx)


def _scatter_inverse(Q_alive_inv: Tensor, alive: Tensor) -> FullInverse:
    """The inverse of Q restricted to the weights still present, zeros elsewhere (owned, not copied)."""
    if bool(alive.all()):
        return FullInverse(Q_alive_inv, copy=False)
    P = alive.shape[0]
    idx = alive.nonzero().squeeze(1)
    Q_inv = torch.zeros(P, P, dtype=Q_alive_inv.dtype, device=Q_alive_inv.device)
    Q_inv[idx.unsqueeze(1), idx.unsqueeze(0)] = Q_alive_inv
    return FullInverse(Q_inv, copy=False)


def _cholesky(Q: Tensor, alpha: float) -> Tensor:
    L, info = torch.linalg.cholesky_ex(Q)
    if int(info) != 0:
        raise ConfigError(f"the curvature Q + N·alpha·I is not positive definite in float64 (alpha = {alpha:g}); "
                          f"give a larger alpha")
    return L


def _full_inverse(problem: Problem, alive: Tensor, alpha: float) -> FullInverse:
    Q = _restricted(problem.gauss_newton(), alive)  # (P_a, P_a)
    Q.diagonal().add_(problem.x.shape[0] * alpha)
    L = _cholesky(Q, alpha)
    del Q  # at most two P×P matrices alive at a time
    return _scatter_inverse(torch.cholesky_inverse(L), alive)


def _woodbury_inverse(problem: Problem, alive: Tensor, alpha: float) -> FullInverse:
    X = problem.rows()[:, alive]  # (K, P_alive)
    N = problem.x.shape[0]
    # H&S: (α I + (1/N) Σ x x^T)^{-1}, the inverse of the mean; Q = N × that mean
    return _scatter_inverse(woodbury_inverse(X, alpha=alpha, scale=1.0 / N) / N, alive)


def _exact_inverse(problem: Problem, alive: Tensor, alpha: float) -> FullInverse:
    H = _restricted(problem.hessian(), alive)  # (P_alive, P_alive)
    H.diagonal().add_(problem.x.shape[0] * alpha)
    H, mu = make_positive_definite(H)
    if mu:
        log.debug("Hessian not positive definite: added mu I, mu = %.3g", mu)
    return _scatter_inverse(torch.cholesky_inverse(_cholesky(H, alpha)), alive)


def _diagonal_inverse(problem: Problem, alive: Tensor, alpha: float) -> DiagonalInverse:
    d = 1.0 / (problem.gauss_newton(diagonal=True) + problem.x.shape[0] * alpha)  # (P,)
    return DiagonalInverse(torch.where(alive, d, torch.zeros_like(d)))


def _identity_inverse(problem: Problem, alive: Tensor, alpha: float) -> DiagonalInverse:
    return DiagonalInverse(alive.to(torch.float64))


#: name -> builder of the inverse-curvature strategy at the current weights
CURVATURES = {"full": _full_inverse, "woodbury": _woodbury_inverse, "hessian": _exact_inverse,
              "diagonal": _diagonal_inverse, "identity": _identity_inverse}


def copy_curvature(curv):
    """A copy of the curvature strategy, so that a rejected removal can be undone."""
    if isinstance(curv, FullInverse):
        return FullInverse(curv.Q_inv)
    return DiagonalInverse(curv.d)
