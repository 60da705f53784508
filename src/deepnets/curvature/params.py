"""Flat parameter vectors: the layout that maps a model's named tensors onto w ∈ R^P.

Curvature lives in one flat space: the Jacobian G is (N, C, P), the Hessian Q is (P, P). A
:class:`ParamLayout` records which slice of w belongs to which named tensor, so a vector can go
back and forth between the flat and the named form, and groups weights into the blocks the
approximations and the decoupled Kalman filter use (per tensor, per layer, per neuron).

>>> import torch
>>> net = torch.nn.Linear(3, 2)
>>> layout = ParamLayout.from_module(net)
>>> layout.names, layout.numel
(('weight', 'bias'), 8)
>>> w = layout.flatten(dict(net.named_parameters()))
>>> torch.equal(layout.unflatten(w)["bias"], net.bias)
True
>>> [b.tolist() for b in layout.blocks("neuron")]
[[0, 1, 2, 6], [3, 4, 5, 7]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn

from ..errors import ConfigError


@dataclass(frozen=True)
class ParamLayout:
    """Names, shapes and offsets of the tensors stacked into one flat vector w (P,)."""

    names: tuple[str, ...]
    shapes: tuple[torch.Size, ...]

    @classmethod
    def from_module(cls, model: nn.Module, names: Iterable[str] | None = None) -> "ParamLayout":
        """The layout of ``model``'s trainable parameters (or of ``names``, in that order)."""
        params = dict(model.named_parameters())
        if names is None:
            names = [n for n, p in params.items() if p.requires_grad]
        names = tuple(names)
        missing = [n for n in names if n not in params]
        if missing:
            raise ConfigError(f"unknown parameter names {missing}; the model has {list(params)}")
        return cls(names, tuple(params[n].shape for n in names))

    @classmethod
    def from_tensors(cls, tensors: Sequence[Tensor]) -> "ParamLayout":
        """A layout for an unnamed list of tensors (names are their positions '0', '1', ...)."""
        return cls(tuple(str(i) for i in range(len(tensors))), tuple(t.shape for t in tensors))

    @property
    def numels(self) -> tuple[int, ...]:
        return tuple(s.numel() for s in self.shapes)

    @property
    def numel(self) -> int:
        """P, the length of the flat vector."""
        return sum(self.numels)

    @property
    def offsets(self) -> tuple[int, ...]:
        """Start of each tensor's slice in w."""
        out, start = [], 0
        for n in self.numels:
            out.append(start)
            start += n
        return tuple(out)

    def slice(self, name: str) -> slice:
        """The slice of w that holds tensor ``name``."""
        i = self.names.index(name)
        return slice(self.offsets[i], self.offsets[i] + self.numels[i])

    def flatten(self, tensors: Mapping[str, Tensor] | Sequence[Tensor]) -> Tensor:
        """Stack named (or positional) tensors into w (P,)."""
        if isinstance(tensors, Mapping):
            tensors = [tensors[n] for n in self.names]
        if len(tensors) != len(self.names):
            raise ConfigError(f"expected {len(self.names)} tensors, got {len(tensors)}")
        return torch.cat([t.reshape(-1) for t in tensors])

    def unflatten(self, w: Tensor) -> dict[str, Tensor]:
        """Split w (..., P) into named tensors of shape (..., *shape); leading dims are kept."""
        if w.shape[-1] != self.numel:
            raise ConfigError(f"expected a vector of length {self.numel}, got shape {tuple(w.shape)}")
        lead = w.shape[:-1]
        parts = torch.split(w, self.numels, dim=-1)
        return {n: p.reshape(*lead, *s) for n, p, s in zip(self.names, parts, self.shapes)}

    def layers(self) -> list[list[int]]:
        """Tensor indices grouped into layers: a 1-D tensor joins the tensor just before it when
        its length equals that tensor's first dimension (the weight-then-bias order of
        nn.Linear and nn.Conv*); every other tensor is a layer of its own."""
        groups: list[list[int]] = []
        for i, s in enumerate(self.shapes):
            prev = self.shapes[i - 1] if i else None
            if (len(s) == 1 and prev is not None and len(prev) >= 2 and prev[0] == s[0]
                    and len(groups[-1]) == 1):
                groups[-1].append(i)
            else:
                groups.append([i])
        return groups

    def blocks(self, kind: str = "layer") -> list[Tensor]:
        """Index tensors into w, one per block of the given kind.

        ``"global"``: one block of all P weights; ``"tensor"``: one per named tensor;
        ``"layer"``: weight with its bias (see :meth:`layers`); ``"neuron"``: one per output unit
        of a layer -- row i of the weight with bias[i] (the incoming weights of unit i).
        """
        if kind not in _BLOCK_KINDS:
            raise ConfigError(f"unknown block kind {kind!r}; expected one of {sorted(_BLOCK_KINDS)}")
        return _BLOCK_KINDS[kind](self)


def _global_blocks(layout: ParamLayout) -> list[Tensor]:
    return [torch.arange(layout.numel)]


def _tensor_blocks(layout: ParamLayout) -> list[Tensor]:
    return [torch.arange(o, o + n) for o, n in zip(layout.offsets, layout.numels)]


def _layer_blocks(layout: ParamLayout) -> list[Tensor]:
    ranges = _tensor_blocks(layout)
    return [torch.cat([ranges[i] for i in group]) for group in layout.layers()]


def _neuron_blocks(layout: ParamLayout) -> list[Tensor]:
    out = []
    for group in layout.layers():
        rows = []
        for i in group:
            o, s = layout.offsets[i], layout.shapes[i]
            m = s[0] if len(s) else 1
            rows.append(torch.arange(o, o + s.numel()).reshape(m, -1))  # (M, fan_in) or (M, 1)
        out.extend(torch.cat(rows, dim=1).unbind(0))  # one (fan_in + 1,) per unit
    return out


_BLOCK_KINDS = {
    "global": _global_blocks,
    "tensor": _tensor_blocks,
    "layer": _layer_blocks,
    "neuron": _neuron_blocks,
}
