"""Pruning a whole model by OBS, OBD or magnitude, one weight at a time, with stopping rules.

The weights to prune are masked (:mod:`deepnets.prune.masks`); the outer-product Hessian
Q = Σ_n G_n Λ_n G_n^T + NαI is built from per-sample Jacobians summed a chunk of samples at a time
and factorised by Cholesky in float64 (:mod:`deepnets.prune.curvatures`); :func:`obs_step` removes
the least salient weight and moves the others; Q is rebuilt at the new weights after each removal
on small nets. The three methods share this one loop -- OBS (full Q), OBD (its diagonal) and
magnitude (Q = I) -- with the same stopping rules (a target sparsity, an error budget, a drop in
training accuracy, a user's ``keep`` rule) and the same default set of pruned parameters (every
trainable one, biases included), so they compare on equal terms. The removal that breaks a rule
is undone.

Full-Hessian OBS costs O(P²) memory and time per removal (and a rebuild O(N·C·P² + P³)): meant
for nets of up to a few thousand weights. For large MLPs use :func:`deepnets.prune.layerwise_obs`.

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
from typing import Callable, Iterable

import torch
from torch import Tensor, nn

from ..curvature import ParamLayout
from ..errors import ConfigError, DataError
from ..losses import likelihood_model, likelihood_name, summed_error
from .curvatures import CURVATURES, Problem, copy_curvature, rebuild_interval
from .masks import apply_masks, get_masks, original_name
from .obs import obs_step

log = logging.getLogger(__name__)


@dataclass
class PruneResult:
    """What a pruning run did: the removals in order, their saliencies and the measured errors."""

    names: list[str]                    # pruned parameter names (unmasked), in the flat order
    removed: list[tuple[str, int]] = field(default_factory=list)   # (name, flat index in tensor)
    saliency: list[float] = field(default_factory=list)           # predicted ΔE of each removal
    error: list[float] = field(default_factory=list)              # measured E after each removal
    accuracy: list[float] = field(default_factory=list)           # training accuracy after each removal
    error_start: float = float("nan")
    accuracy_start: float = float("nan")
    n_total: int = 0
    stopped_by: str = ""                # "sparsity", "no weights left", or every rule the last
    #                                     rejected removal(s) broke, comma-separated in the order
    #                                     "error budget, accuracy drop, keep rule"

    @property
    def n_remaining(self) -> int:
        return self.n_total - len(self.removed)


def _accuracy(a: Tensor, z: Tensor, likelihood: str) -> float:
    """Training accuracy of the activations a (N, C): argmax over C > 1 (targets: labels or coded
    rows), a threshold on one output (0 for a logit, 0.5 for an LMS output; 0 for ±1 targets)."""
    a = a.reshape(a.shape[0], -1)
    if a.shape[1] > 1:
        truth = z.reshape(z.shape[0], -1).argmax(1) if z.is_floating_point() and z.ndim > 1 else z.reshape(-1)
        return float((a.argmax(1) == truth.to(a.device)).double().mean())
    t = z.reshape(-1).to(a.dtype)
    t_cut = 0.0 if bool((t < 0).any()) else 0.5  # ±1 or 0/1 targets
    a_cut = 0.0 if likelihood == "cross_entropy" else t_cut  # a logit, or an output on the targets' scale
    return float(((a[:, 0] > a_cut) == (t > t_cut)).double().mean())


@dataclass
class _Rules:
    """The stopping rules checked after each removal; ``broken`` names the ones a removal breaks."""

    measure: Callable[[], tuple[float, float]] | None  # (summed error, training accuracy) on (x, z)
    max_error_increase: float | None
    max_accuracy_drop: float | None
    keep: Callable[[nn.Module], bool] | None
    E0: float = float("nan")
    acc0: float = float("nan")

    @property
    def undoable(self) -> bool:
        return (self.max_error_increase is not None or self.max_accuracy_drop is not None
                or self.keep is not None)

    def broken(self, model: nn.Module, err: float, acc: float) -> list[str]:
        out = []
        if self.max_error_increase is not None and err - self.E0 > self.max_error_increase:
            out.append("error budget")
        if self.max_accuracy_drop is not None and self.acc0 - acc > self.max_accuracy_drop + 1e-12:
            out.append("accuracy drop")
        if self.keep is not None and not self.keep(model):
            out.append("keep rule")
        return out


def _check(sparsity, max_error_increase, max_accuracy_drop, keep, alpha, tries, chunk_size, recompute_every) -> None:
    if sparsity is None and max_error_increase is None and keep is None and max_accuracy_drop is None:
        raise ConfigError("give a stopping rule: sparsity, max_error_increase, max_accuracy_drop or keep")
    if sparsity is not None and not 0.0 <= sparsity < 1.0:
        raise ConfigError(f"sparsity must be in [0, 1), got {sparsity}")
    if max_accuracy_drop is not None and not 0.0 <= max_accuracy_drop < 1.0:
        raise ConfigError(f"max_accuracy_drop must be in [0, 1), got {max_accuracy_drop}")
    if not alpha > 0:
        raise ConfigError(f"alpha must be > 0, got {alpha}")
    if tries < 1:
        raise ConfigError(f"tries must be >= 1, got {tries}")
    if chunk_size is not None and chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    rebuild_interval(recompute_every, 1)  # refuses a bad value before anything is masked


def obs_prune(model: nn.Module, x: Tensor, z: Tensor, *, loss: str = "lms",
              curvature: str = "full", names: Iterable[str] | None = None,
              sparsity: float | None = None, max_error_increase: float | None = None,
              max_accuracy_drop: float | None = None,
              keep: Callable[[nn.Module], bool] | None = None, alpha: float = 1e-6,
              beta: float | Tensor = 1.0, recompute_every: int | str | None = "auto",
              between_rounds: Callable[[nn.Module], None] | None = None,
              tries: int = 1, chunk_size: int | None = None,
              callback: Callable[[nn.Module, "PruneResult"], None] | None = None) -> PruneResult:
    """Prune ``model`` in place by Optimal Brain Surgeon (or OBD / magnitude), one weight a step.

    Each step: L_q = w_q² / (2[Q^{-1}]_qq), remove argmin L_q, Δw = −(w_q/[Q^{-1}]_qq) Q^{-1} e_q,
    downdate Q^{-1}; Q = Σ_n G_n Λ_n G_n^T + NαI, rebuilt at the current weights every
    ``recompute_every`` removals.

    The defaults reproduce Hassibi & Stork's (1993) protocol on nets small enough: Q rebuilt after
    every removal (P ≤ 200 pruned weights), α = 1e-6 added to the *mean* outer product (their
    H_0 = αI, 1e-8 ≤ α ≤ 1e-4), and -- with ``max_accuracy_drop=0`` -- pruning stops at the first
    removal that lowers the training accuracy ("until the training accuracy first drops"). On
    larger nets Q is rebuilt after every ⌈0.05 P⌉ removals (20 rebuilds over a whole run) to keep
    the cost O(20 N C P²); ``recompute_every=1`` asks for the paper's protocol at any size,
    ``recompute_every=None`` builds Q once at the start weights (the one-Hessian OBS of later
    comparisons, e.g. the layer-wise OBS of Dong et al. 2017).

    Args:
        model: any ``nn.Module``; the pruned parameters get masks (they stay masked afterwards).
        x, z: the data (inputs (N, ...), targets) on which Q, the error and the accuracy are measured.
        loss: a name of :mod:`deepnets.losses`, meaning what it means in :func:`deepnets.fit`:
            ``"lms"`` (default, alias ``"mse"``; E = ½ Σ β (z − ẑ)²) or ``"cross_entropy"``
            (class labels or target probabilities; softmax over C > 1 logits, Bernoulli on one;
            a deepnets MLP with a softmax or logistic output is taken through its logits,
            :func:`deepnets.losses.likelihood_model`); E is summed over the data.
        curvature: ``"full"`` (OBS with the outer-product Q, inverted by Cholesky in float64:
            Hassibi & Stork's OBS), ``"woodbury"`` (the same Q inverted by their rank-one
            recursion, eq. 10, the rows built whole -- small nets), ``"hessian"`` (OBS with the
            exact Hessian ∇²E from ``torch.func.hessian``, + μI when not positive definite: the
            paper's "full Hessian" check; small nets), ``"diagonal"`` (OBD, LeCun, Denker & Solla
            1990: Q ≈ its diagonal) or ``"identity"`` (Q = I: magnitude pruning, one weight a step).
        names: the parameters to prune (default: every trainable parameter, biases included).
        sparsity: stop when this fraction of the pruned parameters' weights is zero.
        max_error_increase: stop before the measured E rises more than this above its start.
        max_accuracy_drop: stop before the training accuracy on (x, z) falls more than this below
            its start (0: at its first drop, Hassibi & Stork's rule). Accuracy: argmax over
            several outputs; one output thresholded at 0 (a logit, or ±1 targets) or 0.5.
        keep: stop before a removal after which ``keep(model)`` is False (e.g. a truth table).
        alpha: α added to the mean outer product (1/N) Σ G Λ G^T (NαI to the summed Q); keeps Q
            invertible when there are fewer outputs than weights; default 1e-6.
        beta: output precision β for ``"lms"``.
        recompute_every: removals between rebuilds of Q at the current weights: ``"auto"``
            (default: 1 up to 200 pruned weights, else ⌈0.05 P⌉), an integer, or None (never).
        between_rounds: called with the model before each rebuild (e.g. a few epochs of
            retraining; the masks keep removed weights at zero). The stopping rules are checked
            after it, so a removal counts as harmless when retraining repairs it.
        tries: when a removal breaks a stopping rule, undo it and try the next most salient
            weight, up to ``tries`` candidates per step (1: stop at the first failure, as
            Hassibi & Stork do).
        chunk_size: samples per chunk of the per-sample Jacobian when Q is summed (default:
            chunks of at most 2²² Jacobian entries; the memory does not grow with N).
        callback: called with the model and the result so far after each accepted removal
            (e.g. to record accuracy along the pruning path).

    At least one of ``sparsity``, ``max_error_increase``, ``max_accuracy_drop`` and ``keep`` is
    required; without ``sparsity`` pruning may go on until one weight is left. OBS's quadratic
    model assumes the weights sit at a minimum of E (zero gradient): train the model first.
    ``result.stopped_by`` names every rule the last rejected removal broke.

    Reference: Hassibi & Stork 1993, "Second order derivatives for network pruning: Optimal
    Brain Surgeon"; LeCun, Denker & Solla 1990, "Optimal Brain Damage".
    """
    if curvature not in CURVATURES:
        raise ConfigError(f"unknown curvature {curvature!r}; expected one of {sorted(CURVATURES)}")
    if x.shape[0] != z.shape[0]:
        raise DataError(f"x has {x.shape[0]} samples but z has {z.shape[0]}")
    return _prune(model, x, z, loss=loss, curvature=curvature, names=names, sparsity=sparsity,
                  max_error_increase=max_error_increase, max_accuracy_drop=max_accuracy_drop, keep=keep,
                  alpha=alpha, beta=beta, recompute_every=recompute_every, between_rounds=between_rounds,
                  tries=tries, chunk_size=chunk_size, callback=callback)


def _prune(model, x, z, *, loss, curvature, names, sparsity, max_error_increase, max_accuracy_drop,
           keep, alpha, beta, recompute_every, between_rounds, tries, chunk_size, callback) -> PruneResult:
    """The one removal loop of OBS, OBD and magnitude (arguments as in :func:`obs_prune`)."""
    _check(sparsity, max_error_increase, max_accuracy_drop, keep, alpha, tries, chunk_size, recompute_every)
    f = likelihood_model(model, loss)  # the activations E takes (outputs or logits), asked before masking
    lik = likelihood_name(loss)
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
    every = rebuild_interval(recompute_every, layout.numel)
    if between_rounds is not None and every is None:
        raise ConfigError("between_rounds runs before each rebuild of Q: set recompute_every too")
    masks = get_masks(model)
    alive = layout.flatten([masks[n] for n in names]).clone()  # (P,) bool
    beta_t = torch.as_tensor(beta, dtype=tensors[0].dtype, device=tensors[0].device)
    data = x is not None

    def measure() -> tuple[float, float]:
        if not data:
            return float("nan"), float("nan")
        a = f(x)
        return float(summed_error(loss, a, z, beta=beta_t)), _accuracy(a, z, lik)

    rules = _Rules(measure, max_error_increase, max_accuracy_drop, keep)
    result = PruneResult(names=list(names), n_total=layout.numel)
    n_target = None if sparsity is None else int(round(sparsity * layout.numel))
    with torch.no_grad():
        result.error_start, result.accuracy_start = rules.E0, rules.acc0 = measure()

    problem = Problem(f, x, z, orig, layout, loss, beta_t, chunk_size)
    build = lambda: CURVATURES[curvature](problem, alive, alpha)
    read = lambda: layout.flatten([t.detach() for t in tensors]).to(torch.float64)  # (P,), float64

    def write(w: Tensor) -> None:
        for t, part in zip(tensors, layout.unflatten(w).values()):
            t.copy_(part)

    def set_mask(idx: int) -> tuple[str, int]:
        name_i = next(i for i, s in enumerate(layout.numels) if idx < layout.offsets[i] + s)
        local = idx - layout.offsets[name_i]
        masks[names[name_i]].view(-1)[local] = False
        return names[name_i], local

    curv = build()
    since = 0
    result.stopped_by = "no weights left"
    broke: list[str] = []  # the rules broken by the candidates rejected at this step
    with torch.no_grad():
        w = read()
        rejected = torch.zeros_like(alive)  # candidates that broke a rule at this step
        while int(alive.sum()) > 1:
            if n_target is not None and layout.numel - int(alive.sum()) >= n_target:
                result.stopped_by = "sparsity"
                break
            if rules.undoable:  # weights, masks and curvature before this removal
                saved = ({k: v.clone() for k, v in model.state_dict().items()}, w.clone(),
                         alive.clone(), curv, since)
                curv = copy_curvature(curv)
            q, Lq = obs_step(w, curv, alive, prunable=~rejected)
            write(w)
            name, local = set_mask(q)
            since += 1
            if every is not None and since == every:
                if between_rounds is not None:
                    with torch.enable_grad():
                        between_rounds(model)
                w = read()
                curv = build()
                since = 0
            err, acc = measure()
            now = rules.broken(model, err, acc)
            if now:
                state, w, alive, curv, since = saved
                model.load_state_dict(state)
                rejected[q] = True
                broke += [r for r in now if r not in broke]
                if int(rejected.sum()) < tries and bool((alive & ~rejected).any()):
                    continue  # try the next most salient weight
                order = ["error budget", "accuracy drop", "keep rule"]
                result.stopped_by = ", ".join(r for r in order if r in broke)
                break
            rejected.zero_()
            broke = []
            result.removed.append((name, local))
            result.saliency.append(Lq)
            if data:
                result.error.append(err)
                result.accuracy.append(acc)
            if callback is not None:
                callback(model, result)
            log.debug("removed %s[%d]: saliency %.3g, E %.4g", name, local, Lq, err)
    return result


def obd_prune(model: nn.Module, x: Tensor, z: Tensor, **kwargs) -> PruneResult:
    """Optimal Brain Damage: :func:`obs_prune` with a diagonal curvature, L_q = h_qq w_q² / 2.

    The same loop, stopping rules, rebuild rule and default pruned set as OBS; h = diag Q is
    rebuilt at the current weights as Q is (LeCun, Denker & Solla 1990 recompute the second
    derivatives after each round of deletions and retraining).

    Reference: LeCun, Denker & Solla 1990.
    """
    if "curvature" in kwargs:
        raise ConfigError("obd_prune is obs_prune with curvature='diagonal'; do not pass curvature")
    return obs_prune(model, x, z, curvature="diagonal", **kwargs)


def magnitude_prune(model: nn.Module, sparsity: float | None = None, *, x: Tensor | None = None,
                    z: Tensor | None = None, names: Iterable[str] | None = None, scope: str = "global",
                    **rules) -> PruneResult:
    """Magnitude pruning: remove the smallest |w| one weight at a time, with OBS's stopping rules.

    :func:`obs_prune` with ``curvature="identity"`` (Q = I, so L_q = w_q²/2 and a removal moves
    no other weight): the same loop, the same stopping rules (``max_error_increase``,
    ``max_accuracy_drop``, ``keep``, ``tries``, measured on ``x``, ``z``), the same default pruned
    set (every trainable parameter, biases included) and ``between_rounds`` retraining, so
    magnitude, OBD and OBS compare on equal terms. Without retraining the removals equal a
    one-shot threshold on |w|.

    Args:
        model: the model (masked in place).
        sparsity: fraction of the weights to remove, in [0, 1) (or give another stopping rule).
        x, z: the data the error and accuracy rules are measured on (needed by those rules only).
        names: parameters to prune (default: every trainable parameter, biases included).
        scope: ``"global"`` (one ranking over all named tensors) or ``"layer"`` (``sparsity`` in
            each tensor separately; takes no other stopping rule).
        **rules: ``loss``, ``beta``, ``max_error_increase``, ``max_accuracy_drop``, ``keep``,
            ``tries``, ``recompute_every``, ``between_rounds``, ``callback`` as in :func:`obs_prune`.

    Returns:
        The :class:`PruneResult` (``len(result.removed)`` weights removed).
    """
    if scope not in ("global", "layer"):
        raise ConfigError(f"unknown scope {scope!r}; expected 'global' or 'layer'")
    unknown = set(rules) - {"loss", "beta", "max_error_increase", "max_accuracy_drop", "keep", "tries",
                            "recompute_every", "between_rounds", "callback"}
    if unknown:
        raise ConfigError(f"magnitude_prune got unexpected options {sorted(unknown)}")
    needs_data = [r for r in ("max_error_increase", "max_accuracy_drop") if rules.get(r) is not None]
    if (x is None) != (z is None) or (needs_data and x is None):
        raise ConfigError(f"give both x and z (the data {', '.join(needs_data) or 'the rules'} are measured on)")
    if x is not None and x.shape[0] != z.shape[0]:
        raise DataError(f"x has {x.shape[0]} samples but z has {z.shape[0]}")
    args = dict(loss="lms", curvature="identity", max_error_increase=None, max_accuracy_drop=None,
                keep=None, alpha=1.0, beta=1.0, recompute_every="auto", between_rounds=None, tries=1,
                chunk_size=None, callback=None)
    args.update(rules)
    if scope == "global":
        return _prune(model, x, z, names=names, sparsity=sparsity, **args)
    if sparsity is None or any(args[r] is not None for r in ("max_error_increase", "max_accuracy_drop", "keep")):
        raise ConfigError("scope='layer' prunes the same fraction of each tensor: give sparsity and no other rule")
    if names is None:
        names = [n for n, p in model.named_parameters() if p.requires_grad and ".parametrizations." not in n]
        names += [n for n in get_masks(model) if n not in names]
    out = PruneResult(names=list(names))
    for n in names:  # one tensor at a time, each to the same sparsity
        part = _prune(model, x, z, names=[n], sparsity=sparsity, **args)
        out.removed += part.removed
        out.saliency += part.saliency
        out.n_total += part.n_total
        out.stopped_by = part.stopped_by
    return out
