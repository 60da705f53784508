"""The lecture's costs E(ẑ, z), each averaged over the samples of a batch.

- LMS: E = ½ Σ_i (z_i − ẑ_i)²; terminal co-state λ(L) = ẑ(L) − z.
- Lp: E = (1/R) Σ_i |z_i − ẑ_i|^R, 1 ≤ R ≤ 2 (the 1/R makes R = 2 the LMS cost);
  λ(L) = sign(ẑ − z)|ẑ − z|^(R−1).
- cross-entropy on probabilities: softmax outputs E = −Σ_i z_i ln ẑ_i; a logistic output
  E = −[z ln ẑ + (1 − z) ln(1 − ẑ)]. With the matching output unit the co-state recursion gives
  δ(L) = ẑ − z: "the gradient does not have g'" (the lecture's deviance slide).

Targets: a float tensor of exactly the prediction's shape, or class labels (an integer tensor of
shape (N,)) that the loss codes itself: one-hot for cross-entropy, and for LMS/Lp the coding
chosen (``"one_hot"`` 0/1, or ``"pm1"``: the lecture's [−1 −1 … +1 … −1] for tanh outputs).
Anything else is an error, never a silent broadcast: a (N, 1) prediction with a (N,) float target
raises, batch size 1 included.

>>> import torch
>>> LMS()(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]]))
tensor(2.5000)
>>> LMS(coding="pm1").code(torch.tensor([1]), 3)
tensor([[-1.,  1., -1.]])
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from ._registry import lookup
from .errors import ConfigError

CODINGS = ("one_hot", "pm1")


def code_targets(labels: Tensor, n_classes: int, coding: str = "one_hot", dtype=torch.float32) -> Tensor:
    """Class labels (N,) -> target vectors (N, C): one-hot 0/1, or ±1 ("pm1"). A single output
    (C = 1) codes class 1 as the high value and class 0 as the low one."""
    if coding not in CODINGS:
        raise ConfigError(f"unknown target coding {coding!r}: expected one of {list(CODINGS)}")
    low = -1.0 if coding == "pm1" else 0.0
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= max(n_classes, 2)):
        raise ConfigError(f"class labels must lie in [0, {max(n_classes, 2) - 1}] for {n_classes} output(s), "
                          f"got values in [{int(labels.min())}, {int(labels.max())}]")
    if n_classes == 1:
        t = labels.to(dtype).unsqueeze(1)
        return t * (1.0 - low) + low
    t = torch.full((labels.shape[0], n_classes), low, dtype=dtype, device=labels.device)
    return t.scatter_(1, labels.long().unsqueeze(1), 1.0)


def _target_like(pred: Tensor, target: Tensor, coding: str) -> Tensor:
    if pred.dim() != 2:
        raise ConfigError(f"predictions must have shape (N, outputs), got {tuple(pred.shape)}")
    if not target.is_floating_point():
        if target.dim() != 1 or target.shape[0] != pred.shape[0]:
            raise ConfigError(f"class labels must have shape ({pred.shape[0]},) for predictions of shape "
                              f"{tuple(pred.shape)}, got {tuple(target.shape)}")
        return code_targets(target, pred.shape[1], coding, pred.dtype)
    if target.shape != pred.shape:
        raise ConfigError(f"target shape {tuple(target.shape)} does not match prediction shape "
                          f"{tuple(pred.shape)} (no broadcasting: reshape the target)")
    return target


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
    """Cross-entropy of probabilities ẑ: −Σ_i z_i ln ẑ_i for several outputs (softmax), and
    −[z ln ẑ + (1 − z) ln(1 − ẑ)] for one output (logistic). Probabilities are clamped to
    [tiny, 1] inside the logarithm so a saturated unit gives a large finite cost."""

    name = "cross_entropy"
    takes_labels = True

    def __init__(self):
        super().__init__("one_hot")

    def per_sample(self, pred, target):
        tiny = torch.finfo(pred.dtype).tiny
        if pred.shape[1] == 1:
            return -(torch.xlogy(target, pred.clamp_min(tiny))
                     + torch.xlogy(1 - target, (1 - pred).clamp_min(tiny))).sum(1)
        return -torch.xlogy(target, pred.clamp_min(tiny)).sum(1)

    def dE(self, pred, target):
        tiny = torch.finfo(pred.dtype).tiny
        if pred.shape[1] == 1:
            return -target / pred.clamp_min(tiny) + (1 - target) / (1 - pred).clamp_min(tiny)
        return -target / pred.clamp_min(tiny)

    def terminal(self, pred, target, output=None, *, validate: bool = True):
        name = getattr(output, "name", None)
        matched = (name == "softmax" and pred.shape[1] > 1) or (
            name == "logistic" and pred.shape[1] == 1 and getattr(output, "alpha", 1.0) == 1.0)
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

    def __repr__(self):
        return "CrossEntropy()"


#: name -> factory; keyword arguments pass through (``R`` for lp, ``coding`` for lms/lp).
LOSSES = {"lms": LMS, "mse": LMS, "lp": Lp, "cross_entropy": CrossEntropy}


def get_loss(spec, **kwargs):
    """A :class:`Loss` from its name (``"lms"``, ``"lp"``, ``"cross_entropy"``), or any callable
    ``(pred, target) -> scalar`` returned as it is."""
    if callable(spec) and not isinstance(spec, str):
        return spec
    return lookup(spec, LOSSES, what="loss")(**kwargs)
