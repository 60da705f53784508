"""Building the optimizer of a run: a name from :data:`deepnets.optim.OPTIMIZERS`, with
parameter groups that carry per-layer learning rates.

Every optimizer is a ``torch.optim.Optimizer``; :func:`deepnets.fit` calls ``step(closure)`` on
all of them, so first-order methods (one closure call) and line-search and second-order methods
(several calls) share one loop.
"""

from __future__ import annotations

import inspect

import torch

from ..errors import ConfigError
from ..optim.registry import OPTIMIZERS, build_optimizer

#: optimizers whose fused CPU/GPU kernel is tried first (the fastest path for small models)
FUSED = (torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.Adagrad)
#: options of torch.optim.LBFGS that make it usable from fit: a strong-Wolfe search (its default
#: has none); with max_iter=1 torch would also cap max_eval at 1 and starve that search.
LBFGS_DEFAULTS = {"line_search_fn": "strong_wolfe"}


def param_groups(model: torch.nn.Module, lr: float | None, layer_lr=None) -> list[dict]:
    """Parameter groups with a learning rate per layer.

    ``layer_lr`` is None (one group), a list with one rate per entry of ``model.layers`` (the
    lecture: smaller η for higher layers), or a dict mapping a parameter-name prefix to a rate;
    parameters that match no prefix keep ``lr``. Frozen parameters (``requires_grad`` off, see
    :func:`deepnets.train.freeze`) go into no group; a prefix that names only frozen parameters is
    accepted (it has nothing to train), one that names no parameter at all is an error.
    """
    every = [n for n, _ in model.named_parameters()]
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if every and not named:
        raise ConfigError(f"every parameter of the {type(model).__name__} is frozen: nothing to train "
                          f"(unfreeze a part with deepnets.train.unfreeze)")
    if layer_lr is None:
        group = {"params": [p for _, p in named]}
        return [group if lr is None else {**group, "lr": lr}]
    if isinstance(layer_lr, (list, tuple)):
        layers = getattr(model, "layers", None)
        if layers is None or len(layers) != len(layer_lr):
            n = len(layers) if layers is not None else "no"
            raise ConfigError(f"layer_lr lists one rate per layer: the model has {n} layers, got {len(layer_lr)} rates")
        layer_lr = {f"layers.{i}.": float(r) for i, r in enumerate(layer_lr)}
    if not isinstance(layer_lr, dict):
        raise ConfigError(f"layer_lr must be a list of rates or a dict prefix -> rate, got {layer_lr!r}")
    groups: dict = {}
    used = set()
    for name, p in named:
        rate = lr
        for prefix, r in layer_lr.items():
            if name.startswith(prefix):
                rate = float(r)
                used.add(prefix)
                break
        groups.setdefault(rate, []).append(p)
    unused = [k for k in layer_lr if k not in used and not any(n.startswith(k) for n in every)]
    if unused:
        raise ConfigError(f"layer_lr prefix {unused[0]!r} matches no parameter; names are "
                          f"{[n for n, _ in named][:10]}")
    return [{"params": ps} if r is None else {"params": ps, "lr": r} for r, ps in groups.items()]


def make_optimizer(spec, model: torch.nn.Module, *, lr: float | None = None, layer_lr=None, **options):
    """An optimizer from a name (``"adam"``, ``"sgd"``, ``"quickprop"``, ``"conjugate_gradient"``,
    ...; see :data:`deepnets.optim.OPTIMIZERS`), a factory ``f(param_groups, lr)``, or an
    optimizer instance (returned as it is). ``lr=None`` keeps the optimizer's own default."""
    if isinstance(spec, torch.optim.Optimizer):
        return spec
    if lr is not None and not (isinstance(lr, (int, float)) and lr > 0):
        raise ConfigError(f"Invalid learning rate: {lr}")
    if callable(spec) and not isinstance(spec, str):
        base = lr if lr is not None else 1e-3
        return spec(param_groups(model, base, layer_lr), base)
    cls = OPTIMIZERS.get(spec)
    accepts = set(inspect.signature(cls).parameters) if cls is not None else set()
    if cls is not None and lr is not None and "lr" not in accepts:
        raise ConfigError(f"optimizer {spec!r} takes no learning rate (it sets its own step length)")
    groups = param_groups(model, lr if "lr" in accepts or cls is None else None, layer_lr)
    if cls is torch.optim.LBFGS:
        options = {**LBFGS_DEFAULTS, **options}
    if cls in FUSED and "fused" not in options and "foreach" not in options:
        try:
            return cls(groups, fused=True, **options)
        except (RuntimeError, ValueError, TypeError):
            pass
    return build_optimizer(spec, groups, **options)
