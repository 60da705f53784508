"""Pruning a whole model by OBS, OBD or magnitude, one weight at a time, with a stopping rule.

The weights to prune are masked (:mod:`deepnets.prune.masks`), the outer-product Hessian
Q = Σ_n G_n Λ_n G_n^T + α I is built from per-sample Jacobians (:mod:`deepnets.curvature`) and
inverted by the Hassibi & Stork Woodbury recursion, then :func:`obs_step` removes the least
salient weight and moves the others, until a target sparsity, an error budget or a user's
``keep`` rule stops it. The removal that breaks the budget or the rule is undone.

Full-Hessian OBS costs O(P²) memory and time per removal: meant for nets of up to a few
thousand weights. For large MLPs use :func:`deepnets.prune.layerwise_obs`.

Reference: Hassibi & Stork 1993; LeCun, Denker & Solla 1990.

>>> import torch
>>> torch.manual_seed(0) and None
>>> net = torch.nn.Linear(4, 1, bias=False)
>>> x = torch.randn(32, 4)
>>> z = x @ torch.tensor([[2.0], [0.0], [-1.0], [0.01]])
>>> net.weight.data = torch.linalg.lstsq(x, z).solution.T  # OBS starts at a minimum
>>> result = obs_prune(net, x, z, sparsity=0.5)
>>> result.n_remaining, get_masks(net)["weight"].tolist()
(2, [[True, False, True, False]])
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn

from torch.func import functional_call, hessian

from ..curvature import (ParamLayout, gauss_newton_factors, make_positive_definite,
                         per_sample_jacobian, woodbury_inverse)
from ..curvature.approx import diagonal_curvature
from ..errors import ConfigError, DataError
from ..losses import likelihood_model, summed_error
from .masks import apply_masks, get_masks, original_name
from .obs import DiagonalInverse, FullInverse, obs_step

log = logging.getLogger(__name__)


@dataclass
class _Problem:
    """What the curvature builders need: the model, the data and the flat layout of w."""

    model: nn.Module         # the activations a the likelihood takes: the outputs, or the logits
    x: Tensor
    z: Tensor
    orig: list[str]          # named_parameters keys of the pruned tensors
    layout: ParamLayout
    loss: str
    beta: Tensor

    def rows(self) -> Tensor:
        """Gauss-Newton rows X (K, P) with Q = X^T X at the current weights."""
        J, _ = per_sample_jacobian(self.model, self.x, names=self.orig)  # (N, C, P)
        with torch.no_grad():
            out = self.model(self.x).reshape(J.shape[0], J.shape[1])
        return gauss_newton_factors(J, self.loss, outputs=out, beta=self.beta)  # (K, P)

    def hessian(self) -> Tensor:
        """The exact Hessian ∇²_w E (P, P) at the current weights (torch.func.hessian)."""
        params = dict(self.model.named_parameters())
        w0 = self.layout.flatten([params[n].detach() for n in self.orig])
        E = lambda w: summed_error(
            self.loss, functional_call(self.model, self.layout.unflatten(w), (self.x,)), self.z, beta=self.beta)
        return hessian(E)(w0)


def _scatter_inverse(Q_alive_inv: Tensor, alive: Tensor) -> FullInverse:
    """The inverse of Q restricted to the weights still present, zeros elsewhere."""
    P = alive.shape[0]
    idx = alive.nonzero().squeeze(1)
    Q_inv = torch.zeros(P, P, dtype=Q_alive_inv.dtype, device=Q_alive_inv.device)
    Q_inv[idx.unsqueeze(1), idx.unsqueeze(0)] = Q_alive_inv
    return FullInverse(Q_inv)


def _full_inverse(problem: _Problem, alive: Tensor, alpha: float) -> FullInverse:
    X = problem.rows()[:, alive]  # (K, P_alive)
    Q = X.T @ X + alpha * torch.eye(X.shape[1], dtype=X.dtype, device=X.device)  # (P_a, P_a)
    return _scatter_inverse(torch.cholesky_inverse(torch.linalg.cholesky(Q)), alive)


def _woodbury_inverse(problem: _Problem, alive: Tensor, alpha: float) -> FullInverse:
    X = problem.rows()[:, alive]  # (K, P_alive)
    return _scatter_inverse(woodbury_inverse(X, alpha=alpha, scale=1.0), alive)


def _exact_inverse(problem: _Problem, alive: Tensor, alpha: float) -> FullInverse:
    H = problem.hessian()[alive][:, alive]  # (P_alive, P_alive)
    H, mu = make_positive_definite(H + alpha * torch.eye(H.shape[0], dtype=H.dtype,
                                                         device=H.device))
    if mu:
        log.debug("Hessian not positive definite: added mu I, mu = %.3g", mu)
    return _scatter_inverse(torch.cholesky_inverse(torch.linalg.cholesky(H)), alive)


def _diagonal_inverse(problem: _Problem, alive: Tensor, alpha: float) -> DiagonalInverse:
    d = 1.0 / diagonal_curvature(problem.rows(), alpha=alpha)  # (P,)
    return DiagonalInverse(torch.where(alive, d, torch.zeros_like(d)))


def _identity_inverse(problem: _Problem, alive: Tensor, alpha: float) -> DiagonalInverse:
    return DiagonalInverse(alive.to(problem.beta.dtype))


# name -> builder of the inverse-curvature strategy at the current weights
CURVATURES = {"full": _full_inverse, "woodbury": _woodbury_inverse, "hessian": _exact_inverse,
              "diagonal": _diagonal_inverse, "identity": _identity_inverse}


@dataclass
class PruneResult:
    """What a pruning run did: the removals in order, their saliencies and the measured errors."""

    names: list[str]                    # pruned parameter names (unmasked), in the flat order
    removed: list[tuple[str, int]] = field(default_factory=list)   # (name, flat index in tensor)
    saliency: list[float] = field(default_factory=list)           # predicted ΔE of each removal
    error: list[float] = field(default_factory=list)              # measured E after each removal
    error_start: float = float("nan")
    n_total: int = 0
    stopped_by: str = ""

    @property
    def n_remaining(self) -> int:
        return self.n_total - len(self.removed)


def obs_prune(model: nn.Module, x: Tensor, z: Tensor, *, loss: str = "lms",
              curvature: str = "full", names: Iterable[str] | None = None,
              sparsity: float | None = None, max_error_increase: float | None = None,
              keep: Callable[[nn.Module], bool] | None = None, alpha: float = 1e-6,
              beta: float | Tensor = 1.0, recompute_every: int | None = None,
              between_rounds: Callable[[nn.Module], None] | None = None,
              tries: int = 1,
              callback: Callable[[nn.Module, "PruneResult"], None] | None = None) -> PruneResult:
    """Prune ``model`` in place by Optimal Brain Surgeon (or OBD / magnitude), one weight a step.

    Each step: L_q = w_q² / (2[Q^{-1}]_qq), remove argmin L_q, Δw = −(w_q/[Q^{-1}]_qq) Q^{-1} e_q,
    downdate Q^{-1}. Q = Σ_n G_n Λ_n G_n^T + α I at the start weights (and again every
    ``recompute_every`` removals).

    Args:
        model: any ``nn.Module``; the pruned parameters get masks (they stay masked afterwards).
        x, z: the data (inputs (N, ...), targets) on which Q and the error are measured.
        loss: a name of :mod:`deepnets.losses`, meaning what it means in :func:`deepnets.fit`:
            ``"lms"`` (default, alias ``"mse"``; E = ½ Σ β (z − ẑ)²) or ``"cross_entropy"``
            (class labels or target probabilities; softmax over C > 1 logits, Bernoulli on one;
            a deepnets MLP with a softmax or logistic output is taken through its logits,
            :func:`deepnets.losses.likelihood_model`); E is summed over the data.
        curvature: ``"full"`` (OBS with the outer-product Q, inverted by Cholesky),
            ``"woodbury"`` (the same Q inverted by the Hassibi & Stork recursion -- its rounding
            error grows like 1e-16/α, so keep α ≳ 1e-6 there), ``"hessian"`` (OBS with the exact
            Hessian ∇²E from ``torch.func.hessian``, + μI when not positive definite; small nets),
            ``"diagonal"`` (OBD: Q ≈ diag of the outer product, the same code) or
            ``"identity"`` (Q = I: magnitude pruning, one weight at a time).
        names: the parameters to prune (default: every trainable parameter, biases included).
        sparsity: stop when this fraction of the pruned parameters' weights is zero.
        max_error_increase: stop before the measured E rises more than this above its start.
        keep: stop before a removal after which ``keep(model)`` is False (e.g. a truth table).
        alpha: α I added to Q (Q_0 = α I of the Woodbury recursion; keeps Q invertible when
            there are fewer outputs than weights); default 1e-6.
        beta: output precision β for ``"lms"``.
        recompute_every: rebuild Q at the current weights after this many removals.
        between_rounds: called with the model before each rebuild (e.g. a few epochs of
            retraining; the masks keep removed weights at zero). The stopping rules are checked
            after it, so a removal counts as harmless when retraining repairs it.
        tries: when a removal breaks a stopping rule, undo it and try the next most salient
            weight, up to ``tries`` candidates per step (1: stop at the first failure, as
            Hassibi & Stork do).
        callback: called with the model and the result so far after each accepted removal
            (e.g. to record accuracy along the pruning path).

    At least one of ``sparsity``, ``max_error_increase`` and ``keep`` is required; without
    ``sparsity`` pruning may go on until one weight is left. OBS's quadratic model assumes the
    weights sit at a minimum of E (zero gradient): train the model first.

    Reference: Hassibi & Stork 1993, "Second order derivatives for network pruning: Optimal
    Brain Surgeon"; LeCun, Denker & Solla 1990, "Optimal Brain Damage".
    """
    if curvature not in CURVATURES:
        raise ConfigError(f"unknown curvature {curvature!r}; expected one of {sorted(CURVATURES)}")
    if sparsity is None and max_error_increase is None and keep is None:
        raise ConfigError("give a stopping rule: sparsity, max_error_increase or keep")
    if sparsity is not None and not 0.0 <= sparsity < 1.0:
        raise ConfigError(f"sparsity must be in [0, 1), got {sparsity}")
    if not alpha > 0:
        raise ConfigError(f"alpha must be > 0, got {alpha}")
    if tries < 1:
        raise ConfigError(f"tries must be >= 1, got {tries}")
    if recompute_every is not None and recompute_every < 1:
        raise ConfigError(f"recompute_every must be >= 1, got {recompute_every}")
    if between_rounds is not None and recompute_every is None:
        raise ConfigError("between_rounds runs before each rebuild of Q: set recompute_every too")
    if x.shape[0] != z.shape[0]:
        raise DataError(f"x has {x.shape[0]} samples but z has {z.shape[0]}")

    f = likelihood_model(model, loss)  # the activations E takes (outputs or logits), asked before masking
    if names is None:
        names = [n for n, p in model.named_parameters() if p.requires_grad]
        masked = get_masks(model)
        names = [n for n in names if ".parametrizations." not in n] + list(masked)
    names = list(dict.fromkeys(names))
    apply_masks(model, names)
    orig = [original_name(model, n) for n in names]
    params = dict(model.named_parameters())
    tensors = [params[o] for o in orig]
    layout = ParamLayout.from_module(model, orig)
    masks = get_masks(model)
    alive = layout.flatten([masks[n] for n in names]).clone()  # (P,) bool
    beta_t = torch.as_tensor(beta, dtype=tensors[0].dtype, device=tensors[0].device)
    E = lambda: float(summed_error(loss, f(x), z, beta=beta_t))

    result = PruneResult(names=list(names), n_total=layout.numel)
    n_target = None if sparsity is None else int(round(sparsity * layout.numel))
    with torch.no_grad():
        result.error_start = E0 = E()

    problem = _Problem(f, x, z, orig, layout, loss, beta_t)
    build = lambda: CURVATURES[curvature](problem, alive, alpha)

    def write(w: Tensor) -> None:
        for t, part in zip(tensors, layout.unflatten(w).values()):
            t.copy_(part)

    def set_mask(idx: int) -> tuple[str, int]:
        name_i = next(i for i, s in enumerate(layout.numels) if idx < layout.offsets[i] + s)
        local = idx - layout.offsets[name_i]
        m = masks[names[name_i]]
        m.view(-1)[local] = False
        return names[name_i], local

    curv = build()
    since = 0
    undoable = max_error_increase is not None or keep is not None
    result.stopped_by = "no weights left"
    with torch.no_grad():
        w = layout.flatten([t.detach() for t in tensors]).clone()  # (P,)
        rejected = torch.zeros_like(alive)  # candidates that broke a rule at this step
        while int(alive.sum()) > 1:
            if n_target is not None and layout.numel - int(alive.sum()) >= n_target:
                result.stopped_by = "sparsity"
                break
            if undoable:  # weights, masks and curvature before this removal
                saved = ({k: v.clone() for k, v in model.state_dict().items()}, w.clone(),
                         alive.clone(), curv, since)
                curv = _copy(curv)
            q, Lq = obs_step(w, curv, alive, prunable=~rejected)
            write(w)
            name, local = set_mask(q)
            since += 1
            if recompute_every is not None and since == recompute_every:
                if between_rounds is not None:
                    with torch.enable_grad():
                        between_rounds(model)
                w = layout.flatten([t.detach() for t in tensors]).clone()
                curv = build()
                since = 0
            err = E()
            broke = ("error budget" if max_error_increase is not None
                     and err - E0 > max_error_increase else
                     "keep rule" if keep is not None and not keep(model) else "")
            if broke:
                state, w, alive, curv, since = saved
                model.load_state_dict(state)
                rejected[q] = True
                if int(rejected.sum()) < tries and bool((alive & ~rejected).any()):
                    continue  # try the next most salient weight
                result.stopped_by = broke
                break
            rejected.zero_()
            result.removed.append((name, local))
            result.saliency.append(Lq)
            result.error.append(err)
            if callback is not None:
                callback(model, result)
            log.debug("removed %s[%d]: saliency %.3g, E %.4g", name, local, Lq, err)
    return result


def _copy(curv):
    """A copy of the curvature strategy, so that a rejected removal can be undone."""
    if isinstance(curv, FullInverse):
        return FullInverse(curv.Q_inv)
    return DiagonalInverse(curv.d)


def obd_prune(model: nn.Module, x: Tensor, z: Tensor, **kwargs) -> PruneResult:
    """Optimal Brain Damage: :func:`obs_prune` with a diagonal curvature, L_q = h_qq w_q² / 2.

    Reference: LeCun, Denker & Solla 1990.
    """
    return obs_prune(model, x, z, curvature="diagonal", **kwargs)


def magnitude_prune(model: nn.Module, sparsity: float, *, names: Sequence[str] | None = None,
                    scope: str = "global") -> int:
    """Mask the smallest-|w| fraction ``sparsity`` of the named weights, in one shot.

    Args:
        model: the model (masked in place).
        sparsity: fraction of the weights to remove, in [0, 1).
        names: parameters to prune (default: every weight matrix/kernel, i.e. tensors with
            dim ≥ 2 -- biases are kept).
        scope: ``"global"`` (one threshold over all named tensors) or ``"layer"`` (the same
            fraction in each tensor).

    Returns:
        The number of weights removed.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ConfigError(f"sparsity must be in [0, 1), got {sparsity}")
    if scope not in ("global", "layer"):
        raise ConfigError(f"unknown scope {scope!r}; expected 'global' or 'layer'")
    if names is None:
        names = [n for n, p in model.named_parameters()
                 if p.requires_grad and p.ndim >= 2 and ".parametrizations." not in n]
        names += [n for n in get_masks(model) if n not in names]
    apply_masks(model, names)
    masks = get_masks(model)
    weights = {n: model.get_parameter(original_name(model, n)).detach() for n in names}
    groups = [list(names)] if scope == "global" else [[n] for n in names]
    removed = 0
    for group in groups:
        mag = torch.cat([(weights[n].abs() * masks[n]).reshape(-1) for n in group])
        m_all = torch.cat([masks[n].reshape(-1) for n in group])
        k = int(round(sparsity * mag.numel())) - int((~m_all).sum())
        if k <= 0:
            continue
        mag = torch.where(m_all, mag, torch.full_like(mag, float("inf")))
        drop = torch.topk(mag, k, largest=False).indices
        keep_flat = m_all.clone()
        keep_flat[drop] = False
        parts = torch.split(keep_flat, [masks[n].numel() for n in group])
        apply_masks(model, {n: p.reshape(masks[n].shape) for n, p in zip(group, parts)})
        removed += k
    return removed
