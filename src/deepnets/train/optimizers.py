"""Optimizers by name, and parameter groups with per-layer learning rates.

Every optimizer is a ``torch.optim.Optimizer``; :func:`deepnets.fit` calls ``step(closure)`` on
all of them, so first-order methods (one closure call) and line-search methods such as L-BFGS
(several calls) share one loop.
"""

from __future__ import annotations

import difflib

import torch

from ..errors import ConfigError


def _fused(cls):
    """The fused CPU/GPU kernel is the fastest path for small models; fall back where unsupported."""

    def make(params, lr, **kw):
        try:
            return cls(params, lr=lr, fused=True, **kw)
        except (RuntimeError, ValueError):
            return cls(params, lr=lr, **kw)

    return make


#: name -> (factory(params, lr, **options), default learning rate)
OPTIMIZERS = {
    "sgd": (_fused(torch.optim.SGD), 0.01),
    "adam": (_fused(torch.optim.Adam), 1e-3),
    "adamw": (_fused(torch.optim.AdamW), 1e-3),
    "adagrad": (lambda p, lr, **kw: torch.optim.Adagrad(p, lr=lr, **kw), 0.01),
    "rmsprop": (lambda p, lr, **kw: torch.optim.RMSprop(p, lr=lr, **kw), 1e-3),
    "lbfgs": (lambda p, lr, **kw: torch.optim.LBFGS(p, lr=lr, **{"line_search_fn": "strong_wolfe", **kw}), 1.0),
}


def param_groups(model: torch.nn.Module, lr: float, layer_lr=None) -> list[dict]:
    """Parameter groups with a learning rate per layer.

    ``layer_lr`` is None (one group), a list with one rate per entry of ``model.layers`` (the
    lecture: smaller η for higher layers), or a dict mapping a parameter-name prefix to a rate;
    parameters that match no prefix keep ``lr``.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if layer_lr is None:
        return [{"params": [p for _, p in named], "lr": lr}]
    if isinstance(layer_lr, (list, tuple)):
        layers = getattr(model, "layers", None)
        if layers is None or len(layers) != len(layer_lr):
            n = len(layers) if layers is not None else "no"
            raise ConfigError(f"layer_lr lists one rate per layer: the model has {n} layers, got {len(layer_lr)} rates")
        layer_lr = {f"layers.{i}.": float(r) for i, r in enumerate(layer_lr)}
    if not isinstance(layer_lr, dict):
        raise ConfigError(f"layer_lr must be a list of rates or a dict prefix -> rate, got {layer_lr!r}")
    groups: dict[float, list] = {}
    used = set()
    for name, p in named:
        rate = lr
        for prefix, r in layer_lr.items():
            if name.startswith(prefix):
                rate = float(r)
                used.add(prefix)
                break
        groups.setdefault(rate, []).append(p)
    unused = [k for k in layer_lr if k not in used]
    if unused:
        raise ConfigError(f"layer_lr prefix {unused[0]!r} matches no parameter; names are "
                          f"{[n for n, _ in named][:10]}")
    return [{"params": ps, "lr": r} for r, ps in groups.items()]


def make_optimizer(spec, model: torch.nn.Module, *, lr: float | None = None, layer_lr=None, **options):
    """An optimizer from a name (``"adam"``, ``"sgd"``, ...), a factory ``f(param_groups, lr)``,
    or an optimizer instance (returned as is)."""
    if isinstance(spec, torch.optim.Optimizer):
        return spec
    if callable(spec) and not isinstance(spec, str):
        base = lr if lr is not None else 1e-3
        return spec(param_groups(model, base, layer_lr), base)
    if spec not in OPTIMIZERS:
        near = difflib.get_close_matches(str(spec), OPTIMIZERS, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ConfigError(f"unknown optimizer {spec!r}: expected one of {sorted(OPTIMIZERS)}{hint}")
    factory, default_lr = OPTIMIZERS[spec]
    lr = default_lr if lr is None else float(lr)
    if not lr > 0:
        raise ConfigError(f"Invalid learning rate: {lr}")
    try:
        return factory(param_groups(model, lr, layer_lr), lr, **options)
    except TypeError as e:
        raise ConfigError(f"optimizer {spec!r}: {e}") from None
