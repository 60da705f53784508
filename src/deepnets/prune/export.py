"""Export a pruned MLP as a smaller dense one: dead hidden units removed, outputs unchanged.

A hidden unit i between Linear layers l and l+1 is dead when

- its outgoing weights W_{l+1}[:, i] are all zero: it feeds nothing -- drop it; or
- its incoming weights W_l[i, :] are all zero: it outputs the constant c_i = g(b_l[i]) -- fold
  W_{l+1}[:, i] c_i into the next bias b_{l+1} and drop it.

Dropping units can kill units further up (a unit whose inputs were all constants becomes a
constant), so the passes repeat until nothing changes. The result computes the same function
with dense ``nn.Linear`` layers of the surviving sizes.

>>> import torch
>>> from torch import nn
>>> net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
>>> with torch.no_grad():
...     net[2].weight[0, 1] = 0.0  # unit 1 feeds nothing
>>> small = compact_mlp(net)
>>> small[0].out_features
2
>>> x = torch.randn(5, 2)
>>> torch.allclose(small(x), net(x))
True
"""

from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

from .._registry import eval_mode
from ..errors import ConfigError

# parameter-free modules that act on each unit separately (safe to slice by unit)
ELEMENTWISE: tuple[type, ...] = (
    nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Sigmoid, nn.LogSigmoid, nn.Tanh, nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish,
    nn.Softplus, nn.Softsign, nn.Tanhshrink, nn.Softshrink, nn.Hardshrink, nn.Dropout,
    nn.AlphaDropout,
)


def _is_elementwise(m: nn.Module, extra: tuple[type, ...]) -> bool:
    if isinstance(m, ELEMENTWISE + extra) or getattr(m, "elementwise", False):
        return not any(True for _ in m.parameters())
    return False


def _leaves(model: nn.Module) -> list[nn.Module]:
    """The modules a forward pass would apply in order, nested containers flattened."""
    if isinstance(model, nn.Linear) or not any(True for _ in model.children()):
        return [model]
    return [leaf for child in model.children() for leaf in _leaves(child)]


def compact_mlp(model: nn.Module, *, elementwise: Sequence[type] = ()) -> nn.Sequential:
    """A new ``nn.Sequential`` equal to ``model`` with dead hidden units removed.

    Args:
        model: an ``nn.Sequential`` (nested ones are flattened) whose Linear layers are
            consecutive: between two Linear layers only parameter-free elementwise modules
            (activations, dropout); anything before the first or after the last Linear is
            copied as is. Another module is accepted when applying its submodules in
            registration order reproduces its output (checked on a random probe). Masked
            (pruned) weights are read through their masks.
        elementwise: further module types to treat as elementwise activations (a module with
            the attribute ``elementwise = True`` counts too).

    Returns:
        The smaller model (plain ``nn.Linear`` layers, no masks), in the model's dtype/device.
    """
    children = _leaves(model)
    lin_pos = [i for i, m in enumerate(children) if isinstance(m, nn.Linear)]
    if not lin_pos:
        raise ConfigError("compact_mlp found no nn.Linear layer in the model")
    if not isinstance(model, nn.Sequential) and not _same_as_chain(model, children, lin_pos[0]):
        raise ConfigError(f"{type(model).__name__} is not its submodules applied in order; "
                          "compact_mlp needs an MLP whose Linear layers are consecutive")
    extra = tuple(elementwise)
    for a, b in zip(lin_pos, lin_pos[1:]):
        for m in children[a + 1:b]:
            if not _is_elementwise(m, extra):
                raise ConfigError(f"module {type(m).__name__} between Linear layers {a} and {b} "
                                  "is not a known elementwise activation; pass its type in "
                                  "elementwise= if it acts on each unit separately")
    with torch.no_grad():
        W = [children[i].weight.detach().clone() for i in lin_pos]  # (out, in) each
        b = [children[i].bias.detach().clone() if children[i].bias is not None
             else torch.zeros(children[i].out_features, dtype=W[k].dtype, device=W[k].device)
             for k, i in enumerate(lin_pos)]
        acts = [nn.Sequential(*map(_copy, children[a + 1:c])).eval()  # g, for the constants
                for a, c in zip(lin_pos, lin_pos[1:])]
        changed = True
        while changed:
            changed = False
            for l in range(len(W) - 1):  # hidden layer between W[l] and W[l+1]
                feeds = W[l + 1].ne(0).any(0)  # (M_l,)
                fed = W[l].ne(0).any(1)  # (M_l,)
                const = feeds & ~fed
                if const.any():
                    c = acts[l](b[l].unsqueeze(0)).squeeze(0)  # (M_l,) = g(b_l)
                    b[l + 1] += W[l + 1][:, const] @ c[const]  # fold the constants
                keep = feeds & fed
                if not keep.all() and keep.any():
                    W[l], b[l], W[l + 1] = W[l][keep], b[l][keep], W[l + 1][:, keep]
                    changed = True
                elif not keep.any():  # nothing passes: the next layer sees only its bias
                    W[l], b[l] = W[l][:1] * 0, b[l][:1] * 0
                    W[l + 1] = W[l + 1][:, :1] * 0
                    changed = False
    out: list[nn.Module] = [_copy(m) for m in children[:lin_pos[0]]]
    for k, i in enumerate(lin_pos):
        old = children[i]
        has_bias = old.bias is not None or bool(b[k].ne(0).any())
        lin = nn.Linear(W[k].shape[1], W[k].shape[0], bias=has_bias,
                        dtype=W[k].dtype, device=W[k].device)
        with torch.no_grad():
            lin.weight.copy_(W[k])
            if has_bias:
                lin.bias.copy_(b[k])
        out.append(lin)
        end = lin_pos[k + 1] if k + 1 < len(lin_pos) else len(children)
        out.extend(_copy(m) for m in children[i + 1:end])
    return nn.Sequential(*out)


@torch.no_grad()
def _same_as_chain(model: nn.Module, children: list[nn.Module], first: int) -> bool:
    if first != 0:
        return False
    lin = children[0]
    probe = torch.randn(8, lin.in_features, generator=torch.Generator().manual_seed(0),
                        dtype=lin.weight.dtype).to(lin.weight.device)
    with eval_mode(model):
        try:
            return torch.allclose(model(probe), nn.Sequential(*children)(probe))
        except Exception:  # a forward that cannot take the probe is not a plain chain
            return False


def _copy(m: nn.Module) -> nn.Module:
    return copy.deepcopy(m)
