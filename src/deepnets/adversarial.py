"""Adversarial examples and adversarial training: FGSM, PGD, and a batch loss for :func:`deepnets.fit`.

An attack moves each input x within the L∞ ball ‖x' − x‖∞ ≤ ε to raise the cost E(ẑ(x'), z):

- **FGSM** (fast gradient sign method, Goodfellow, Shlens & Szegedy 2015):
  x' = x + ε sign(∇_x E), one gradient; for a linear model it is the exact maximiser of E over the ball.
- **PGD** (projected gradient descent on −E, Madry et al. 2018): from a random start
  x⁰ = x + U(−ε, ε), k steps xᵗ⁺¹ = Π(xᵗ + α sign(∇_x E(xᵗ))), Π the projection onto the ball
  (and onto the input range, when given).

Both run the model in eval mode (dropout off, batch-norm's running statistics: each sample's
attack sees only itself), take the gradient with respect to the inputs alone (the parameters'
``.grad`` stay as they were) and return the attacked inputs detached. The cost is any name of
the loss vocabulary (:mod:`deepnets.losses`), resolved for what the model outputs, or a callable
``(pred, target)``.

Adversarial training (Goodfellow et al. 2015, section 6) minimises
E_adv = (1 − w) E(x, z) + w E(x', z), x' the attack on the current weights, as a
:class:`~deepnets.train.batches.BatchLoss`: ``fit(model, (x, y), loss=adversarial_loss(...))``;
w = 1 trains on attacked inputs alone (Madry et al.'s min-max objective).

>>> import torch
>>> net = torch.nn.Linear(2, 1)
>>> with torch.no_grad():
...     _ = net.weight.copy_(torch.tensor([[2.0, -1.0]])), net.bias.zero_()
>>> x, y = torch.zeros(1, 2), torch.ones(1, 1)
>>> fgsm(net, x, y, 0.1, loss="cross_entropy")   # y = 1: lower the logit, x − ε sign(w)
tensor([[-0.1000,  0.1000]])

References: Goodfellow, Shlens & Szegedy 2015, "Explaining and harnessing adversarial examples",
ICLR; Madry, Makelov, Schmidt, Tsipras & Vladu 2018, "Towards deep learning models resistant to
adversarial attacks", ICLR.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import Tensor, nn

from ._registry import check_positive_int, unknown
from .errors import ConfigError, DataError
from .losses import get_loss, output_kind
from .train.batches import BatchLoss
from .train.callbacks import Callback

__all__ = ["ATTACKS", "fgsm", "pgd", "run_attack", "AdversarialLoss", "adversarial_loss", "attacked_accuracy"]


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """The model in eval mode inside the block, its own mode put back afterwards."""
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)


def _check_epsilon(epsilon) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not math.isfinite(epsilon) or epsilon < 0:
        raise ConfigError(f"epsilon (the L∞ radius of the attack) must be a finite number >= 0, got {epsilon!r}")
    return float(epsilon)


def _check_alpha(alpha) -> None:
    if alpha is not None and (isinstance(alpha, bool) or not isinstance(alpha, (int, float))
                              or not math.isfinite(alpha) or alpha <= 0):
        raise ConfigError(f"alpha (the PGD step size) must be a finite number > 0, got {alpha!r}")


def _bounds(x: Tensor, epsilon: float, clip) -> tuple[Tensor, Tensor]:
    """The box [lo, hi] of the attack: the ε-ball around x, cut to the input range ``clip``; a
    range that leaves x out is widened to hold it, so the box is never empty and never leaves the ball."""
    lo, hi = x - epsilon, x + epsilon
    if clip is not None:
        low, high = (torch.as_tensor(c, dtype=x.dtype, device=x.device) for c in clip)
        lo = torch.maximum(lo, torch.minimum(low, x))
        hi = torch.minimum(hi, torch.maximum(high, x))
    return lo, hi


def _input_gradient(model: nn.Module, cost, x: Tensor, y: Tensor) -> Tensor:
    """∇_x of the summed cost (each sample's gradient its own, not divided by N), parameters untouched."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        E = cost(model(x), y) * x.shape[0]
        (grad,) = torch.autograd.grad(E, x)
    return grad


def _prepare(model, x, y, epsilon, loss, clip):
    if not isinstance(model, nn.Module):
        raise ConfigError(f"an attack needs a torch nn.Module, got {type(model).__name__}")
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise DataError(f"an attack moves floating-point inputs, got {getattr(x, 'dtype', type(x).__name__)}")
    if not isinstance(y, Tensor) or y.shape[:1] != x.shape[:1]:
        raise DataError(f"the targets must be a tensor with one row per input ({x.shape[0]}), "
                        f"got {tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__}")
    if clip is not None and (not isinstance(clip, (tuple, list)) or len(clip) != 2):
        raise ConfigError(f"clip must be a pair (low, high) of numbers or tensors, got {clip!r}")
    return _check_epsilon(epsilon), get_loss(loss, model=model)


def fgsm(model: nn.Module, x: Tensor, y: Tensor, epsilon: float, *, loss="cross_entropy", clip=None) -> Tensor:
    """The fast gradient sign attack: x' = x + ε sign(∇_x E(ẑ(x), z)), cut to ``clip``.

    Args:
        model: any module; run in eval mode, its parameters' gradients untouched.
        x: the inputs, (N, ...), floating point.
        y: their targets, as the cost takes them (class labels or a float tensor).
        epsilon: ε >= 0, the L∞ radius (ε = 0 returns x).
        loss: a name of :mod:`deepnets.losses` or a callable ``(pred, target)``. Default cross-entropy.
        clip: the input range ``(low, high)``, numbers or tensors broadcast over x. Default None.

    Returns:
        x', detached, with ‖x' − x‖∞ <= ε.

    Reference: Goodfellow, Shlens & Szegedy 2015, eq. (3).
    """
    epsilon, cost = _prepare(model, x, y, epsilon, loss, clip)
    x = x.detach()
    if epsilon == 0:
        return x.clone()
    with _eval_mode(model):
        grad = _input_gradient(model, cost, x, y)
    lo, hi = _bounds(x, epsilon, clip)
    return torch.minimum(torch.maximum(x + epsilon * grad.sign(), lo), hi)


def pgd(model: nn.Module, x: Tensor, y: Tensor, epsilon: float, *, steps: int = 10, alpha: float | None = None,
        loss="cross_entropy", clip=None, random_start: bool = True,
        generator: torch.Generator | None = None) -> Tensor:
    """Projected gradient ascent of E in the L∞ ball: x⁰ = x + U(−ε, ε) (or x),
    xᵗ⁺¹ = Π(xᵗ + α sign(∇_x E(xᵗ))), Π the clamp onto ‖x' − x‖∞ <= ε and the input range.

    Args:
        model, x, y, epsilon, loss, clip: as :func:`fgsm`.
        steps: k >= 1, the number of gradient steps. Default 10.
        alpha: α > 0, the step size. Default None: 2.5 ε / k, enough to cross the ball and back.
        random_start: start at a uniform point of the ball (Madry et al.). Default True.
        generator: the random start's generator. Default None: torch's global one.

    Returns:
        x' after k steps, detached, with ‖x' − x‖∞ <= ε.

    Reference: Madry et al. 2018, eq. (2) and section 2.1.
    """
    epsilon, cost = _prepare(model, x, y, epsilon, loss, clip)
    check_positive_int("steps", steps)
    _check_alpha(alpha)
    x = x.detach()
    if epsilon == 0:
        return x.clone()
    alpha = 2.5 * epsilon / steps if alpha is None else float(alpha)
    lo, hi = _bounds(x, epsilon, clip)
    x_adv = x
    if random_start:
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        x_adv = x + epsilon * (2 * noise - 1)
    x_adv = torch.minimum(torch.maximum(x_adv, lo), hi)
    with _eval_mode(model):
        for _ in range(steps):
            grad = _input_gradient(model, cost, x_adv, y)
            x_adv = torch.minimum(torch.maximum(x_adv + alpha * grad.sign(), lo), hi)
    return x_adv


#: attack name -> function ``(model, x, y, epsilon, **options) -> x'``
ATTACKS = {"fgsm": fgsm, "pgd": pgd}


def run_attack(name: str, model: nn.Module, x: Tensor, y: Tensor, epsilon: float, **options) -> Tensor:
    """The attack ``name`` (``"fgsm"`` or ``"pgd"``) on ``(x, y)``; ``options`` are its keywords."""
    if name not in ATTACKS:
        raise unknown(name, list(ATTACKS), what="attack")
    if name == "fgsm":
        extra = sorted(set(options) - {"loss", "clip"})
        if extra:
            raise ConfigError(f"the fgsm attack takes one gradient step: {extra[0]!r} is a pgd option")
    return ATTACKS[name](model, x, y, epsilon, **options)


class AdversarialLoss(BatchLoss, Callback):
    """E_adv = (1 − w) E(ẑ(x), z) + w E(ẑ(x'), z), x' the attack on the batch at the current weights.

    A :class:`~deepnets.train.batches.BatchLoss` for :func:`deepnets.fit` (batches ``(x, y)``),
    and a :class:`~deepnets.train.Callback` so that PGD's random-start generator is checkpointed
    and a resumed run draws the same starts. The attack sees the weights of the step (no gradient
    flows through x'); the clean and attacked costs are then differentiated as usual. A
    validation split gives the same mixed cost, attacks included (its PGD starts drawn from the
    same generator). An optimizer that evaluates the cost several times per step (a line search)
    sees x' recomputed at each trial point, with fresh PGD starts: a noisy cost for it.

    Args:
        loss: the cost E, a name of :mod:`deepnets.losses` (resolved for the model) or a callable.
        attack: ``"fgsm"`` or ``"pgd"``. Default ``"fgsm"``.
        epsilon: ε > 0, the attack's L∞ radius.
        weight: w in [0, 1], the attacked inputs' share of the cost. Default 0.5 (Goodfellow et al.).
        steps, alpha: PGD's steps and step size (see :func:`pgd`).
        clip: the input range ``(low, high)``. Default None.
        seed: the seed of PGD's random starts. Default 0.
    """

    def __init__(self, loss="cross_entropy", *, attack: str = "fgsm", epsilon: float, weight: float = 0.5,
                 steps: int = 10, alpha: float | None = None, clip=None, seed: int = 0):
        if attack not in ATTACKS:
            raise unknown(attack, list(ATTACKS), what="attack")
        if _check_epsilon(epsilon) == 0:
            raise ConfigError("adversarial training needs epsilon > 0 (with epsilon = 0 it is plain training)")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
            raise ConfigError(f"the attacked inputs' weight must be a number in [0, 1], got {weight!r}")
        check_positive_int("steps", steps)
        _check_alpha(alpha)
        if not callable(loss) and not isinstance(loss, str):
            raise ConfigError(f"loss must be a loss name or a callable (pred, target), got {type(loss).__name__}")
        self.loss, self.attack, self.epsilon, self.weight = loss, attack, float(epsilon), float(weight)
        self.steps, self.alpha, self.clip = steps, alpha, clip
        self.generator = torch.Generator().manual_seed(int(seed))
        self._resolved: dict[int, object] = {}

    def cost(self, model: nn.Module):
        """E resolved for ``model``'s outputs (logits or a deepnets MLP's probabilities), kept per model."""
        key = id(model)
        if key not in self._resolved:
            self._resolved[key] = get_loss(self.loss, model=model)
        return self._resolved[key]

    def attacked(self, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        """x', the configured attack on ``(x, y)`` at the model's current weights."""
        cost = self.cost(model)
        if self.attack == "fgsm":
            return fgsm(model, x, y, self.epsilon, loss=cost, clip=self.clip)
        return pgd(model, x, y, self.epsilon, steps=self.steps, alpha=self.alpha, loss=cost, clip=self.clip,
                   generator=self.generator)

    def __call__(self, model: nn.Module, batch) -> Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise DataError(f"adversarial training reads batches (x, y), got "
                            f"{len(batch) if isinstance(batch, (tuple, list)) else type(batch).__name__} parts")
        x, y = batch
        cost = self.cost(model)
        if self.weight == 0:  # clean inputs alone: no attack to compute
            return cost(model(x), y)
        E = cost(model(self.attacked(model, x, y)), y)
        if self.weight < 1:
            E = self.weight * E + (1 - self.weight) * cost(model(x), y)
        return E

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    def __repr__(self):
        extra = f", steps={self.steps}, alpha={self.alpha}" if self.attack == "pgd" else ""
        return (f"AdversarialLoss({self.loss!r}, attack={self.attack!r}, epsilon={self.epsilon}, "
                f"weight={self.weight}{extra})")


def adversarial_loss(loss="cross_entropy", *, attack: str = "fgsm", epsilon: float, weight: float = 0.5,
                     steps: int = 10, alpha: float | None = None, clip=None, seed: int = 0) -> AdversarialLoss:
    """The adversarial training cost (1 − w) E(x) + w E(x') for :func:`deepnets.fit` (:class:`AdversarialLoss`)."""
    return AdversarialLoss(loss, attack=attack, epsilon=epsilon, weight=weight, steps=steps, alpha=alpha,
                           clip=clip, seed=seed)


def attacked_accuracy(model: nn.Module, x: Tensor, labels: Tensor, epsilon: float, *, attack: str = "fgsm",
                      loss="cross_entropy", batch_size: int = 1024, **options) -> float:
    """The fraction of inputs still classified right after the attack of radius ε on each (ε = 0:
    the clean accuracy). The class is the arg-max of C >= 2 outputs; one output is class 1 above
    0.5 for probabilities, above 0 for a logit (:func:`~deepnets.losses.output_kind`).
    ``options`` are the attack's keywords (``clip``, ``steps``, ``generator``, ...)."""
    if labels.dtype.is_floating_point or labels.dim() != 1 or labels.shape[0] != x.shape[0]:
        raise DataError(f"attacked_accuracy needs one class label per input, shape ({x.shape[0]},) integers, "
                        f"got {labels.dtype} {tuple(labels.shape)}")
    check_positive_int("batch_size", batch_size)
    cost = get_loss(loss, model=model)
    right = 0
    for start in range(0, x.shape[0], batch_size):
        xb, yb = x[start:start + batch_size], labels[start:start + batch_size]
        xa = run_attack(attack, model, xb, yb, epsilon, loss=cost, **options)
        with torch.no_grad(), _eval_mode(model):
            out = model(xa)
        if out.dim() != 2:
            raise ConfigError(f"attacked_accuracy reads outputs of shape (N, C), got {tuple(out.shape)}")
        if out.shape[1] == 1:
            guess = (out[:, 0] > (0.5 if output_kind(model) == "probabilities" else 0.0)).long()
        else:
            guess = out.argmax(1)
        right += int((guess == yb).sum())
    return right / x.shape[0]
