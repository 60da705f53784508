"""What a model's outputs are to cross-entropy -- logits or probabilities -- decided once, here."""

from __future__ import annotations

from torch import nn

from ..errors import ConfigError

#: what a model's outputs are to cross-entropy: scores a (torch's convention) or p itself
OUTPUT_KINDS = ("logits", "probabilities")


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
