"""What the Kronecker-factored Laplace needs to know about a pruned ``nn.Linear``: the names of
its masked parameters, which entries of [W | b] a pruning kept, the net with its masks folded
into plain weights, and the Kronecker block restricted to the kept weights.

A mask is :mod:`deepnets.prune`'s parametrization W = W_original ∘ mask (any parametrization
with a boolean ``mask`` buffer); the weights it removed are exactly zero and excluded from the
posterior.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..errors import ConfigError


def _mask(module: nn.Module, attr: str, layer: str) -> Tensor | None:
    """The pruning mask of ``module.attr`` (None when unmasked); another parametrization is refused."""
    if not parametrize.is_parametrized(module, attr):
        return None
    chain = list(getattr(module.parametrizations, attr))
    if len(chain) != 1 or not isinstance(getattr(chain[0], "mask", None), Tensor):
        raise ConfigError(f"kron: {layer or 'the layer'}.{attr} is parametrized by "
                          f"{[type(c).__name__ for c in chain]}, not by a pruning mask alone")
    return chain[0].mask.bool()


def pruned_name(module: nn.Module, attr: str, layer: str) -> str:
    """The ``named_parameters`` name of ``module.attr`` relative to the module: ``attr``, or
    ``parametrizations.attr.original`` when a pruning mask covers it."""
    return attr if _mask(module, attr, layer) is None else f"parametrizations.{attr}.original"


def kept_entries(module: nn.Linear) -> Tensor | None:
    """The indices of the kept entries of [W | b] flattened row by row (out·(in+1),), or None
    when neither the weight nor the bias is masked."""
    wm, bm = _mask(module, "weight", ""), _mask(module, "bias", "")
    if wm is None and bm is None:
        return None
    out, n_in = module.weight.shape
    wm = torch.ones(out, n_in, dtype=torch.bool) if wm is None else wm.cpu()
    bm = torch.ones(out, dtype=torch.bool) if bm is None else bm.cpu()
    return torch.cat([wm, bm[:, None]], dim=1).reshape(-1).nonzero().squeeze(1)


def unmasked_copy(f: nn.Module) -> nn.Module:
    """A copy of ``f`` whose masked ``nn.Linear`` layers are plain ones holding W ∘ mask (the same
    outputs). (``remove_parametrizations`` on a deep copy would strip the class it shares with ``f``.)"""
    if parametrize.is_parametrized(f):
        return _plain(f, "the model")
    g = copy.deepcopy(f)
    for parent in list(g.modules()):
        for name, child in list(parent._modules.items()):
            if child is not None and parametrize.is_parametrized(child):
                parent._modules[name] = _plain(child, repr(name))
    return g


def _plain(layer: nn.Module, name: str) -> nn.Linear:
    if not isinstance(layer, nn.Linear):
        raise ConfigError(f"kron: {type(layer).__name__} {name} is parametrized; only a masked nn.Linear may be")
    w = layer.weight.detach()
    plain = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None, dtype=w.dtype,
                      device=w.device)
    with torch.no_grad():
        plain.weight.copy_(w)
        if layer.bias is not None:
            plain.bias.copy_(layer.bias.detach())
    return plain


def restricted_block(QG: Tensor, QA: Tensor, D: Tensor, kept: Tensor) -> tuple[None, Tensor, Tensor]:
    """``(None, kept, L)``: L the Cholesky factor of (G ⊗ A + αI)[kept, kept], built from the
    eigendecompositions G = Q_G Λ_G Q_Gᵀ, A = Q_A Λ_A Q_Aᵀ (D = λ_G λ_Aᵀ + α) as
    U diag(D) Uᵀ with U = (Q_G ⊗ Q_A)[kept, :]."""
    kept = kept.to(QG.device)
    U = torch.kron(QG, QA)[kept]  # (kept, out·(in+1))
    H = (U * D.reshape(1, -1)) @ U.T
    L, info = torch.linalg.cholesky_ex(H)
    if int(info) != 0:
        raise ConfigError("a pruned Kronecker block of the posterior precision is singular: give alpha > 0")
    return None, kept, L
