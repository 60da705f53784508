"""The costs E(ẑ, z) that training minimises, averaged over a batch, with their terminal co-states."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._registry import check_choice
from ..errors import ConfigError
from .outputs import OUTPUT_KINDS, output_kind
from .targets import CODINGS, _check_label_range, _check_labels, _target_like, code_targets

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

    @property
    def decision_threshold(self) -> float | None:
        """Where a single output splits class 1 from class 0: 0 for ±1 coding; None (the accuracy
        metric's own rule: 0 for targets with negative values, else 0.5) for 0/1 coding."""
        return 0.0 if self.coding == "pm1" else None

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

    @property
    def decision_threshold(self) -> float | None:
        """p = σ(a) = 0.5 on one output: a > 0 on a logit (None, the metric's 0.5, on p itself)."""
        return None if self._on_probabilities else 0.0

    def for_model(self, model: nn.Module) -> "CrossEntropy":
        """This cost on what ``model`` outputs (:func:`output_kind`): itself when that is settled."""
        kind = output_kind(model, given=self.outputs)
        return self if kind == self.outputs else CrossEntropy(kind)

    def __repr__(self):
        return "CrossEntropy()" if self.outputs is None else f"CrossEntropy(outputs={self.outputs!r})"
