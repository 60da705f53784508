"""Pruning masks that keep removed weights at zero through further training.

A pruned tensor ``module.weight`` becomes ``original * mask`` by a
``torch.nn.utils.parametrize`` parametrization: the mask is a buffer, so it is saved in
``state_dict()`` (as ``<module>.parametrizations.<name>.0.mask``) and moves with ``.to()``; the
gradient reaching ``original`` is masked too, so no optimizer step can revive a pruned weight.

To load a pruned checkpoint into a fresh model, first call :func:`apply_masks` with the same
names (the masks start all ones), then ``load_state_dict``.

>>> import torch
>>> net = torch.nn.Linear(2, 2)
>>> apply_masks(net, {"weight": torch.tensor([[1, 0], [0, 1]], dtype=torch.bool)})
>>> net.weight.detach().mul(torch.tensor([[0., 1], [1, 0]])).abs().sum().item()
0.0
>>> sorted(get_masks(net))
['weight']
"""

from __future__ import annotations

from typing import Iterable, Mapping

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..errors import ConfigError


class Mask(nn.Module):
    """The parametrization W = W_original ∘ mask, the mask held as a (saved) buffer."""

    def __init__(self, mask: Tensor):
        super().__init__()
        self.register_buffer("mask", mask.detach().clone())

    def forward(self, original: Tensor) -> Tensor:
        return original * self.mask.to(original.dtype)


def _split(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    """('0.weight') -> (model[0], 'weight'); names as in an unmasked model."""
    path, _, attr = name.rpartition(".")
    try:
        module = model.get_submodule(path) if path else model
    except AttributeError:
        raise ConfigError(f"no module {path!r} in the model for parameter {name!r}") from None
    if not (parametrize.is_parametrized(module, attr) or isinstance(getattr(module, attr, None),
                                                                   nn.Parameter)):
        raise ConfigError(f"{name!r} is not a parameter of the model")
    return module, attr


def _mask_module(module: nn.Module, attr: str) -> Mask | None:
    if not parametrize.is_parametrized(module, attr):
        return None
    for p in module.parametrizations[attr]:
        if isinstance(p, Mask):
            return p
    return None


def apply_masks(model: nn.Module, masks: Mapping[str, Tensor] | Iterable[str]) -> None:
    """Mask the named parameters (names as in the unmasked model, e.g. ``"0.weight"``).

    ``masks`` maps names to boolean (or 0/1) tensors of the parameter's shape -- True keeps the
    weight -- or is a list of names to mask with all ones. A parameter that already has a mask
    gets the new one multiplied in (a pruned weight stays pruned). The masked-out entries of the
    original tensor are set to zero as well.
    """
    if not isinstance(masks, Mapping):
        masks = {n: None for n in masks}
    for name, m in masks.items():
        module, attr = _split(model, name)
        shape = getattr(module, attr).shape
        m = torch.ones(shape, dtype=torch.bool) if m is None else torch.as_tensor(m).bool()
        if m.shape != shape:
            raise ConfigError(f"mask for {name!r} has shape {tuple(m.shape)}, expected {tuple(shape)}")
        existing = _mask_module(module, attr)
        if existing is None:
            m = m.to(getattr(module, attr).device)
            parametrize.register_parametrization(module, attr, Mask(m), unsafe=True)
        else:
            existing.mask.logical_and_(m.to(existing.mask.device))
        with torch.no_grad():
            original = module.parametrizations[attr].original
            original.mul_(_mask_module(module, attr).mask.to(original.dtype))


def get_masks(model: nn.Module) -> dict[str, Tensor]:
    """The masks of every masked parameter, by unmasked name (True: kept)."""
    out = {}
    for mod_name, module in model.named_modules():
        if not parametrize.is_parametrized(module):
            continue
        for attr in module.parametrizations:
            m = _mask_module(module, attr)
            if m is not None:
                out[f"{mod_name}.{attr}" if mod_name else attr] = m.mask.bool()
    return out


def masked_original(model: nn.Module, name: str) -> nn.Parameter:
    """The trainable tensor behind a masked parameter (the ``original`` of the parametrization)."""
    module, attr = _split(model, name)
    if _mask_module(module, attr) is None:
        raise ConfigError(f"{name!r} has no mask; call apply_masks first")
    return module.parametrizations[attr].original


def original_name(model: nn.Module, name: str) -> str:
    """The ``named_parameters`` key of the tensor behind masked ``name``."""
    path, _, attr = name.rpartition(".")
    prefix = f"{path}." if path else ""
    return f"{prefix}parametrizations.{attr}.original"


def remove_masks(model: nn.Module) -> None:
    """Bake the masks in: plain parameters again, with the pruned entries equal to zero."""
    for name in list(get_masks(model)):
        module, attr = _split(model, name)
        parametrize.remove_parametrizations(module, attr, leave_parametrized=True)


def sparsity(model: nn.Module) -> float:
    """Fraction of the masked weights that are pruned (0 when nothing is masked)."""
    masks = get_masks(model).values()
    total = sum(m.numel() for m in masks)
    return 0.0 if total == 0 else sum(int((~m).sum()) for m in masks) / total
