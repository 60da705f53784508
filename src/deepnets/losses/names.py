"""The vocabulary's names: the costs by name, the older vocabularies' aliases, and get_loss."""

from __future__ import annotations

from torch import nn

from .._registry import unknown
from ..errors import ConfigError
from .costs import LMS, CrossEntropy, Lp

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
