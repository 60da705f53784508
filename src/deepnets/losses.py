"""The one loss / likelihood vocabulary: fit, evaluate, the pruners, the Laplace posteriors, the
evidence and the curvature module take these names and mean the same thing by each.

Costs E(ẑ, z), each averaged over the samples of a batch (:func:`deepnets.fit`):

- ``"lms"`` (alias ``"mse"``): E = ½ Σ_i (z_i − ẑ_i)²; terminal co-state λ(L) = ẑ(L) − z.
- ``"lp"``: E = (1/R) Σ_i |z_i − ẑ_i|^R, 1 ≤ R ≤ 2 (the 1/R makes R = 2 the LMS cost);
  λ(L) = sign(ẑ − z)|ẑ − z|^(R−1).
- ``"cross_entropy"``: the deviance of the class probabilities p. Over C > 1 outputs
  E = −Σ_i z_i ln p_i with p = softmax(a); on one output E = −[z ln p + (1 − z) ln(1 − p)] with
  p = σ(a). On a model that outputs scores a (logits) -- every zoo network, a sequence classifier,
  a user's ``nn.Sequential`` ending in ``nn.Linear`` -- this is torch's ``cross_entropy`` (and
  ``binary_cross_entropy_with_logits`` for one output). A deepnets MLP whose output unit is the
  softmax (C > 1) or the logistic of slope 1 (C = 1) outputs p itself; the same name then takes p
  as it is, with the same values and gradients, and with the matching output unit the co-state
  recursion starts from δ(L) = ẑ − z: "the gradient does not have g'" (the lecture's deviance
  slide).

What a model's outputs are is decided here, once, by :func:`output_kind`: probabilities for a
model that says so through ``output_unit`` (the deepnets MLP; it offers its logits through
``logit_view()``), logits for any other module. Where that cannot be told -- a module that ends
in ``nn.Softmax``, ``nn.Sigmoid`` or ``nn.LogSoftmax``, an MLP whose output is tanh or a logistic
of slope ≠ 1 -- a :class:`~deepnets.errors.ConfigError` asks instead of guessing.
:func:`get_loss` with ``model=`` resolves a name for a model; :func:`deepnets.fit` and
:func:`deepnets.evaluate` do that for you.

Likelihoods (OBS, the Laplace posterior, the evidence, the Gauss-Newton curvature) take the same
names, on the activations a that enter them (:func:`likelihood_model`: the outputs for ``"lms"``,
the logits for ``"cross_entropy"``), with E_D summed over the data and the output Hessian Λ_n of
the outer-product curvature Σ_n G_n Λ_n G_nᵀ:

- ``"lms"``: Gaussian noise of precision β_i on output i, E_D = ½ Σ_n Σ_i β_i (z_i − a_i)²,
  Λ_n = diag(β);
- ``"cross_entropy"``: p = softmax(a), Λ_n = diag(p) − p pᵀ; one output, p = σ(a), Λ_n = p(1 − p).

``"lp"`` has no Gauss-Newton curvature. The names of the older vocabularies are aliases, resolved
in :data:`ALIASES` only: ``"mse"`` and ``"regression"`` are ``"lms"``; ``"bce"`` and ``"binary"``
are ``"cross_entropy"`` on one output, ``"multiclass"`` is ``"cross_entropy"`` on C > 1 outputs
(used with another number of outputs, they are an error, never a second meaning).

Targets: a float tensor of exactly the prediction's shape, or class labels (an integer tensor of
shape (N,)) that the loss codes itself: one-hot for cross-entropy, and for LMS/Lp the coding
chosen (``"one_hot"`` 0/1, or ``"pm1"``: the lecture's [−1 −1 … +1 … −1] for tanh outputs).
Anything else is an error, never a silent broadcast: a (N, 1) prediction with a (N,) float target
raises, batch size 1 included.

Reference: Widrow & Hoff 1960 (LMS); Bishop 1995, sections 6.7-6.9 (cross-entropy with the
matching output unit, δ = ẑ − z); MacKay 1992 (the likelihoods of the evidence framework).

>>> import torch
>>> LMS()(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]]))
tensor(2.5000)
>>> LMS(coding="pm1").code(torch.tensor([1]), 3)
tensor([[-1.,  1., -1.]])
>>> get_loss("cross_entropy", model=torch.nn.Linear(4, 3))
CrossEntropy(outputs='logits')
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._registry import check_choice, unknown
from .errors import ConfigError

CODINGS = ("one_hot", "pm1")

#: what a model's outputs are to cross-entropy: scores a (torch's convention) or p itself
OUTPUT_KINDS = ("logits", "probabilities")


def _check_label_range(labels: Tensor, n_classes: int) -> None:
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= max(n_classes, 2)):
        raise ConfigError(f"class labels must lie in [0, {max(n_classes, 2) - 1}] for {n_classes} output(s), "
                          f"got values in [{int(labels.min())}, {int(labels.max())}]")


def code_targets(labels: Tensor, n_classes: int, coding: str = "one_hot", dtype=torch.float32) -> Tensor:
    """Class labels (N,) -> target vectors (N, C): one-hot 0/1, or ±1 ("pm1"). A single output
    (C = 1) codes class 1 as the high value and class 0 as the low one."""
    if coding not in CODINGS:
        raise ConfigError(f"unknown target coding {coding!r}: expected one of {list(CODINGS)}")
    low = -1.0 if coding == "pm1" else 0.0
    _check_label_range(labels, n_classes)
    if n_classes == 1:
        t = labels.to(dtype).unsqueeze(1)
        return t * (1.0 - low) + low
    t = torch.full((labels.shape[0], n_classes), low, dtype=dtype, device=labels.device)
    return t.scatter_(1, labels.long().unsqueeze(1), 1.0)


def _check_labels(pred: Tensor, target: Tensor) -> None:
    if target.dim() != 1 or target.shape[0] != pred.shape[0]:
        raise ConfigError(f"class labels must have shape ({pred.shape[0]},) for predictions of shape "
                          f"{tuple(pred.shape)}, got {tuple(target.shape)}")


def _target_like(pred: Tensor, target: Tensor, coding: str) -> Tensor:
    if pred.dim() != 2:
        raise ConfigError(f"predictions must have shape (N, outputs), got {tuple(pred.shape)}")
    if not target.is_floating_point():
        _check_labels(pred, target)
        return code_targets(target, pred.shape[1], coding, pred.dtype)
    if target.shape != pred.shape:
        raise ConfigError(f"target shape {tuple(target.shape)} does not match prediction shape "
                          f"{tuple(pred.shape)} (no broadcasting: reshape the target)")
    return target


# ---------------------------------------------------------------------------------------------
# what a model outputs


#: torch layers whose outputs are (log-)probabilities: a model ending in one has no logits to give
_PROBABILITY_LAYERS = (nn.Softmax, nn.Softmax2d, nn.Sigmoid, nn.LogSoftmax)


def unit_outputs(unit, n_outputs: int, *, given: str | None = None) -> str:
    """What an output unit g_L that a model applies inside ``forward`` gives cross-entropy.

    ``"probabilities"`` for the softmax over C > 1 outputs and for the logistic σ(a) (slope 1) on
    one output; ``"logits"`` for the identity (a linear output). Any other unit (tanh, a logistic
    of slope α ≠ 1 whose p = σ(αa) is not σ of its pre-activation, ReLU, ...) is an error, and so is
    ``given`` (a :class:`CrossEntropy`'s ``outputs``) when it says otherwise.
    """
    name = getattr(unit, "name", None)
    if name == "identity":
        kind = "logits"
    elif (name == "softmax" and n_outputs > 1) or (
            name == "logistic" and n_outputs == 1 and getattr(unit, "alpha", 1.0) == 1.0):
        kind = "probabilities"
    else:
        raise ConfigError(
            f"'cross_entropy' cannot tell what a {unit!r} output on {n_outputs} unit(s) gives: it takes scores "
            f"(output='linear') or class probabilities (output='softmax' over several outputs, output='logistic' "
            f"with slope 1 on one); change the model's output, or train with 'lms'")
    if given is not None and given != kind:
        raise ConfigError(f"CrossEntropy(outputs={given!r}) on a model whose {unit!r} output gives {kind}: "
                          f"pass 'cross_entropy' (or CrossEntropy()) and the model decides")
    return kind


def _last_module(model: nn.Module) -> nn.Module:
    """The module registered last, innermost first (stops at one that names its ``output_unit``)."""
    m = model
    while getattr(m, "output_unit", None) is None:
        children = list(m.children())
        if not children:
            break
        m = children[-1]
    return m


def output_kind(model: nn.Module, *, given: str | None = None) -> str:
    """``"logits"`` or ``"probabilities"``: what ``model``'s outputs are to cross-entropy.

    A model with an ``output_unit`` (a deepnets MLP) is judged by it (:func:`unit_outputs`). Any
    other module outputs logits, torch's convention -- unless its last registered layer is an
    ``nn.Softmax``, ``nn.Sigmoid`` or ``nn.LogSoftmax`` (or a deepnets MLP with a probability
    output), which raises a :class:`~deepnets.errors.ConfigError` that says what to do; a module
    that applies a softmax in its ``forward`` without a layer for it cannot be seen. ``given``
    (``"logits"`` / ``"probabilities"``, a user's word) settles a plain module's case.
    """
    unit = getattr(model, "output_unit", None)
    if unit is not None:
        return unit_outputs(unit, model.sizes[-1], given=given)
    if given is not None:
        return given
    last = _last_module(model)
    if isinstance(last, _PROBABILITY_LAYERS):
        what = "log-probabilities" if isinstance(last, nn.LogSoftmax) else "probabilities"
        alt = "torch.nn.NLLLoss()" if isinstance(last, nn.LogSoftmax) else "CrossEntropy(outputs='probabilities')"
        raise ConfigError(
            f"'cross_entropy' on a {type(model).__name__} that ends in {type(last).__name__}: its outputs are {what}, "
            f"and cross_entropy takes scores (logits), as torch's does. Remove the final {type(last).__name__} (apply "
            f"it when you predict), or pass loss={alt}")
    if getattr(last, "output_unit", None) is not None and \
            unit_outputs(last.output_unit, last.sizes[-1]) == "probabilities":
        raise ConfigError(
            f"'cross_entropy' on a {type(model).__name__} that ends in a deepnets MLP with a {last.output_unit!r} "
            f"output (probabilities): pass the MLP itself, give it output='linear', or pass "
            f"loss=CrossEntropy(outputs='probabilities')")
    return "logits"


def logit_model(model: nn.Module) -> nn.Module:
    """The module whose outputs are ``model``'s logits a: ``model`` itself when it outputs scores,
    its ``logit_view()`` (the same weights up to a = ŷ(L)) when it outputs probabilities."""
    return model.logit_view() if output_kind(model) == "probabilities" else model


def likelihood_model(model: nn.Module, likelihood: str) -> nn.Module:
    """The module whose outputs a enter ``likelihood``: the outputs themselves for ``"lms"``
    (Gaussian noise around ẑ), the logits (:func:`logit_model`) for ``"cross_entropy"``."""
    return logit_model(model) if likelihood_name(likelihood) == "cross_entropy" else model


def infer_likelihood(model: nn.Module) -> str:
    """The likelihood a model's output implies: ``"cross_entropy"`` for a deepnets MLP with a
    softmax or slope-1 logistic output, ``"lms"`` for one with a linear output and for any other
    module (pass ``likelihood=`` to say otherwise); other MLP outputs, and a module ending in a
    probability layer, raise a :class:`~deepnets.errors.ConfigError` that asks."""
    unit = getattr(model, "output_unit", None)
    if unit is not None:
        try:
            kind = unit_outputs(unit, model.sizes[-1])
        except ConfigError:
            raise ConfigError(f"no likelihood follows from a {unit!r} output on {model.sizes[-1]} unit(s): pass "
                              f"likelihood='lms' (Gaussian noise on the outputs) or use a linear, softmax or "
                              f"logistic output") from None
        return "cross_entropy" if kind == "probabilities" else "lms"
    last = _last_module(model)
    if isinstance(last, _PROBABILITY_LAYERS):
        raise ConfigError(f"no likelihood follows from a {type(model).__name__} that ends in {type(last).__name__}: "
                          f"remove it and pass likelihood='cross_entropy' (the logits), or pass likelihood='lms'")
    return "lms"


# ---------------------------------------------------------------------------------------------
# the costs


class Loss:
    """A cost E(ẑ, z) averaged over the batch; callable as ``loss(pred, target) -> scalar``."""

    name = ""
    #: True when class labels are used as they are (no coded target vectors are needed)
    takes_labels = False

    def __init__(self, coding: str = "one_hot"):
        if coding not in CODINGS:
            raise ConfigError(f"unknown target coding {coding!r}: expected one of {list(CODINGS)}")
        self.coding = coding

    def code(self, labels: Tensor, n_outputs: int) -> Tensor:
        return code_targets(labels, n_outputs, self.coding)

    def __call__(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.per_sample(pred, _target_like(pred, target, self.coding)).mean()

    def per_sample(self, pred: Tensor, target: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def terminal(self, pred: Tensor, target: Tensor, output=None, *, validate: bool = True):
        """``(E, λ(L), δ(L) or None)``: the cost and its terminal co-state λ(L) = ∂E/∂ẑ(L),
        by formula (averaged over the N samples); δ(L) where the output unit makes it closed-form."""
        target = _target_like(pred, target, self.coding)
        return self.per_sample(pred, target).mean(), self.dE(pred, target) / pred.shape[0], None

    def dE(self, pred: Tensor, target: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def for_model(self, model: nn.Module) -> "Loss":
        """This cost for ``model``'s outputs (itself: only cross-entropy depends on what they are)."""
        return self

    def __repr__(self):
        return f"{type(self).__name__}(coding={self.coding!r})"


class LMS(Loss):
    """E = ½ Σ_i (z_i − ẑ_i)², the lecture's LMS cost (Widrow & Hoff 1960)."""

    name = "lms"

    def per_sample(self, pred, target):
        e = pred - target
        return 0.5 * (e * e).sum(1)

    def dE(self, pred, target):
        return pred - target  # λ(L) = ẑ − z


class Lp(Loss):
    """E = (1/R) Σ_i |z_i − ẑ_i|^R for 1 ≤ R ≤ 2 (R = 1: least absolute deviations)."""

    name = "lp"

    def __init__(self, R: float = 1.5, coding: str = "one_hot"):
        super().__init__(coding)
        if not 1.0 <= float(R) <= 2.0:
            raise ConfigError(f"Lp loss needs 1 <= R <= 2, got R={R}")
        self.R = float(R)

    def per_sample(self, pred, target):
        return (pred - target).abs().pow(self.R).sum(1) / self.R

    def dE(self, pred, target):
        e = pred - target
        return e.sign() * e.abs().pow(self.R - 1)

    def __repr__(self):
        return f"Lp(R={self.R}, coding={self.coding!r})"


@functools.lru_cache(maxsize=16)
def _minus_ones_cached(n: int, dtype, device) -> Tensor:
    return torch.full((n, 1), -1.0, dtype=dtype, device=device)


def _minus_ones(n: int, like: Tensor) -> Tensor:
    """A cached (n, 1) column of −1 (scatter_add's source for ẑ − onehot(y))."""
    return _minus_ones_cached(n, like.dtype, like.device)


class CrossEntropy(Loss):
    """The deviance of class probabilities p: −Σ_i z_i ln p_i over C > 1 outputs (softmax), and
    −[z ln p + (1 − z) ln(1 − p)] on one output (logistic).

    On logits a, p = softmax(a) (or σ(a)) inside a log-softmax (softplus), as torch's
    ``cross_entropy`` / ``binary_cross_entropy_with_logits``; λ(L) = ∂E/∂a = p − z. On
    probabilities, p is clamped to [tiny, 1] inside the logarithm so a saturated unit gives a large
    finite cost; with the matching output unit δ(L) = ẑ − z (:meth:`terminal`).

    Args:
        outputs: what the predictions are: ``"logits"`` (scores a), ``"probabilities"`` (p
            itself), or None (default): decided from the model by ``get_loss(..., model=)`` (as
            :func:`deepnets.fit` and :func:`deepnets.evaluate` do); used on its own, None takes
            logits, torch's convention.
    """

    name = "cross_entropy"
    takes_labels = True

    def __init__(self, outputs: str | None = None):
        super().__init__("one_hot")
        if outputs is not None:
            check_choice("outputs", outputs, OUTPUT_KINDS)
        self.outputs = outputs
        self._on_probabilities = outputs == "probabilities"

    def __call__(self, pred: Tensor, target: Tensor) -> Tensor:
        if not self._on_probabilities and pred.dim() == 2 and pred.shape[1] > 1 and not target.is_floating_point():
            _check_labels(pred, target)
            _check_label_range(target, pred.shape[1])
            return F.cross_entropy(pred, target.long())  # E = −mean ln softmax(a)_y, without one-hot
        return super().__call__(pred, target)

    def per_sample(self, pred, target):
        if not self._on_probabilities:
            if pred.shape[1] == 1:
                return F.binary_cross_entropy_with_logits(pred, target, reduction="none").sum(1)
            return -(target * F.log_softmax(pred, dim=1)).sum(1)
        tiny = torch.finfo(pred.dtype).tiny
        if pred.shape[1] == 1:
            return -(torch.xlogy(target, pred.clamp_min(tiny))
                     + torch.xlogy(1 - target, (1 - pred).clamp_min(tiny))).sum(1)
        return -torch.xlogy(target, pred.clamp_min(tiny)).sum(1)

    def dE(self, pred, target):
        if not self._on_probabilities:
            if pred.shape[1] == 1:
                return torch.sigmoid(pred) - target  # λ(L) = σ(a) − z
            return torch.softmax(pred, dim=1) * target.sum(1, keepdim=True) - target  # p Σ_i z_i − z
        tiny = torch.finfo(pred.dtype).tiny
        if pred.shape[1] == 1:
            return -target / pred.clamp_min(tiny) + (1 - target) / (1 - pred).clamp_min(tiny)
        return -target / pred.clamp_min(tiny)

    def terminal(self, pred, target, output=None, *, validate: bool = True):
        name = getattr(output, "name", None)
        matched = self._on_probabilities and ((name == "softmax" and pred.shape[1] > 1) or (
            name == "logistic" and pred.shape[1] == 1 and getattr(output, "alpha", 1.0) == 1.0))
        if not matched:
            return super().terminal(pred, target, output, validate=validate)
        N = pred.shape[0]
        if not target.is_floating_point() and pred.shape[1] > 1:
            # class labels: E = −mean ln ẑ_y; δ(L) = (ẑ − onehot(y)) / N without building one-hot twice
            if target.dim() != 1 or target.shape[0] != N:
                _target_like(pred, target, self.coding)  # raises the shape error
            if validate:
                lo, hi = torch.aminmax(target)
                if int(lo) < 0 or int(hi) >= pred.shape[1]:
                    code_targets(target, pred.shape[1])  # raises the label-range error
            if target.dtype != torch.long:
                target = target.long()
            idx = target.unsqueeze(1)
            # E = −mean ln ẑ_y: nll_loss picks and averages in one op (ln of all of ẑ is cheap: C small)
            E = torch.nn.functional.nll_loss(pred.clamp_min(torch.finfo(pred.dtype).tiny).log_(), target)
            delta = pred.scatter_add(1, idx, _minus_ones(N, pred)).div_(N)
            return E, None, delta
        target = _target_like(pred, target, self.coding)
        return self.per_sample(pred, target).mean(), None, (pred - target) / N  # δ(L) = ẑ − z

    def for_model(self, model: nn.Module) -> "CrossEntropy":
        """This cost on what ``model`` outputs (:func:`output_kind`): itself when that is settled."""
        kind = output_kind(model, given=self.outputs)
        return self if kind == self.outputs else CrossEntropy(kind)

    def __repr__(self):
        return "CrossEntropy()" if self.outputs is None else f"CrossEntropy(outputs={self.outputs!r})"


# ---------------------------------------------------------------------------------------------
# names


#: name -> factory; keyword arguments pass through (``R`` for lp, ``coding`` for lms/lp,
#: ``outputs`` for cross_entropy).
LOSSES = {"lms": LMS, "lp": Lp, "cross_entropy": CrossEntropy}

#: the older vocabularies' names -> (the name here, the outputs they were meant for: None any,
#: 1 one output, 2 several); the one place they are resolved, so a name never means two things
ALIASES: dict[str, tuple[str, int | None]] = {
    "mse": ("lms", None),
    "regression": ("lms", None),            # the Laplace likelihood: Gaussian noise on the outputs
    "bce": ("cross_entropy", 1),            # binary cross-entropy on one logit
    "binary": ("cross_entropy", 1),
    "multiclass": ("cross_entropy", 2),     # softmax over C > 1 outputs
}


def loss_name(name: str, n_outputs: int | None = None, *, what: str = "loss") -> str:
    """The vocabulary's name for ``name`` (an alias resolved by :data:`ALIASES`), checked against
    ``n_outputs`` when the alias was meant for one output or for several."""
    if name in LOSSES:
        return name
    if not isinstance(name, str) or name not in ALIASES:
        raise unknown(name, [*LOSSES, *ALIASES], what=what)
    canonical, meant = ALIASES[name]
    if n_outputs is not None and meant is not None and (n_outputs == 1) != (meant == 1):
        raise ConfigError(f"{name!r} is 'cross_entropy' on {'one output' if meant == 1 else 'several outputs'}, "
                          f"got {n_outputs}: use 'cross_entropy' (softmax over C > 1 outputs, Bernoulli on one)")
    return canonical


def get_loss(spec, *, model: nn.Module | None = None, **kwargs):
    """A :class:`Loss` from its name (``"lms"``, ``"lp"``, ``"cross_entropy"`` or an alias), or
    ``spec`` itself when it is a callable ``(pred, target) -> scalar``.

    With ``model``, the loss is resolved for what the model outputs (``spec.for_model(model)``
    where ``spec`` has that method: cross-entropy on logits or on a deepnets MLP's probabilities).
    """
    if isinstance(spec, str):
        n_outputs = model.sizes[-1] if getattr(model, "output_unit", None) is not None else None  # an MLP's C
        spec = LOSSES[loss_name(spec, n_outputs)](**kwargs)
    elif not callable(spec):
        raise unknown(spec, [*LOSSES, *ALIASES], what="loss")
    for_model = getattr(spec, "for_model", None)
    return for_model(model) if model is not None and for_model is not None else spec


# ---------------------------------------------------------------------------------------------
# likelihoods: E_D summed over the data, and the output Hessian Λ_n = L_n L_nᵀ, on activations a


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
