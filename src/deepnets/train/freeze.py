"""Transfer learning: freezing and unfreezing named parts of any model.

Features learned on one task are reused on another by keeping the lower layers fixed and
training the rest (Pratt 1993; Yosinski et al. 2014, "How transferable are features in deep
neural networks?", NeurIPS). A part is named by a prefix of the parameter names that
``model.named_parameters()`` gives: ``"layers.0"`` is an MLP's first layer, ``"trunk"`` a
multi-task model's shared trunk. A frozen parameter has ``requires_grad = False``: autograd and
the co-state recursion compute no gradient for it, and :func:`deepnets.fit` hands it to no
optimizer (:func:`~deepnets.train.optimizers.param_groups` takes only trainable parameters), so
it keeps its value through a fit. ``layer_lr`` (prefix -> rate) still applies to the trainable
parts; a prefix that names only frozen parameters is accepted and simply has nothing to train.

>>> from deepnets import MLP
>>> net = MLP([4, 8, 8, 2], seed=0)
>>> freeze(net, "layers.0", "layers.1")
['layers.0.bias', 'layers.0.weight', 'layers.1.bias', 'layers.1.weight']
>>> trainable(net)
['layers.2.weight', 'layers.2.bias']
>>> unfreeze(net, "layers.1")
['layers.1.bias', 'layers.1.weight']
"""

from __future__ import annotations

from torch import nn

from ..errors import ConfigError

__all__ = ["freeze", "unfreeze", "trainable", "frozen"]


def _matching(model: nn.Module, prefixes: tuple) -> dict:
    """Parameters whose name is a prefix in ``prefixes`` or lies under one (``"layers.1"``
    matches ``layers.1.weight`` but not ``layers.10.weight``); an error names the prefix that
    matches nothing."""
    if not isinstance(model, nn.Module):
        raise ConfigError(f"freeze/unfreeze take a torch.nn.Module, got {type(model).__name__}")
    if not prefixes:
        raise ConfigError("freeze/unfreeze need at least one name prefix (e.g. 'layers.0')")
    named = dict(model.named_parameters())
    found = {}
    for prefix in prefixes:
        if not isinstance(prefix, str) or not prefix:
            raise ConfigError(f"a part of the model is named by a non-empty string prefix, got {prefix!r}")
        stem = prefix.rstrip(".")
        hits = {n: p for n, p in named.items() if n == stem or n.startswith(stem + ".")}
        if not hits:
            raise ConfigError(f"no parameter of the {type(model).__name__} is named {prefix!r} or lies under it; "
                              f"its parts are {sorted({n.rsplit('.', 1)[0] for n in named})[:12]}")
        found.update(hits)
    return found


def _set(model, prefixes, flag: bool) -> list[str]:
    found = _matching(model, prefixes)
    for p in found.values():
        p.requires_grad_(flag)
    return sorted(found)


def freeze(model: nn.Module, *prefixes: str) -> list[str]:
    """Fix the parameters under the name prefixes (``requires_grad = False``); returns their names.

    Args:
        model: any ``torch.nn.Module``.
        *prefixes: parameter-name prefixes, whole components (``"layers.0"``, ``"trunk"``).

    Raises:
        ConfigError: no prefix, or a prefix that names no parameter (the message lists the parts).
    """
    return _set(model, prefixes, False)


def unfreeze(model: nn.Module, *prefixes: str) -> list[str]:
    """Make the parameters under the name prefixes trainable again; returns their names.

    Raises:
        ConfigError: as :func:`freeze`.
    """
    return _set(model, prefixes, True)


def trainable(model: nn.Module) -> list[str]:
    """Names of the parameters a fit would train (``requires_grad`` set), in the model's order."""
    return [n for n, p in model.named_parameters() if p.requires_grad]


def frozen(model: nn.Module) -> list[str]:
    """Names of the frozen parameters, in the model's order."""
    return [n for n, p in model.named_parameters() if not p.requires_grad]
