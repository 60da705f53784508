"""Weight penalties bound to a model: the closed-form gradient on one flat copy of the weights.

A weight penalty sum_l gamma_l E_l(w(l)) is elementwise in the weights, so its gradient over all
the chosen tensors is a few elementwise kernels on one flat vector w = [w(1); w(2); ...] (copied
at every call) with gamma_l spread over the elements of w(l) as a vector Γ. The gradient is
written into one flat buffer g whose slices, shaped as the tensors, are the per-tensor gradients,
so that a training step can add them where it writes the data gradient (the co-state step passes
each as the input of its weight-gradient GEMM, ``addmm``: no pass of its own over ``.grad``)
and E + P in one op. The penalty class gives the maths (``flat_constants(like, Γ, uniform=...)``,
``flat_gradient(w, consts) -> (v, scale)`` with P = scale · v); :class:`FlatPenalty` keeps the
buffers. A call costs a fixed handful of kernels however many tensors are penalised (weight
elimination with one gamma: a copy per tensor, four kernels, then the step's E + P), and that is
what is left of its cost: on a small net each kernel call costs microseconds of dispatch, not
arithmetic (``benchmarks/bench_penalty.py``).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from .errors import ConfigError

__all__ = ["FlatPenalty"]


class _Group:
    """The chosen tensors of one (dtype, device), the penalty's buffers for them and Γ."""

    def __init__(self, tensors: list[Tensor]):
        self.tensors = tensors
        self.src = [t.detach() for t in tensors]  # share the weights' storage: updates show
        self.parts = [t.reshape(-1) for t in self.src] if all(t.is_contiguous() for t in self.src) else None
        self.consts: dict = {}
        self.grads: list[Tensor] = []
        self.slots: list[Tensor] = []

    def make(self, penalty, gammas: float | list[float]) -> None:
        """(Re)make the penalty's buffers and Γ (one gamma, or one per tensor) for the current settings."""
        first, n = self.src[0], sum(t.numel() for t in self.src)
        if isinstance(gammas, float):
            G = first.new_full((n,), gammas)
        else:
            counts = torch.tensor([t.numel() for t in self.src], device=first.device)
            G = torch.repeat_interleave(first.new_tensor(gammas), counts)  # (n,) gamma_l over w(l)
        self.consts = penalty.flat_constants(first.new_empty(n), G, uniform=isinstance(gammas, float))
        w, g, offset, self.grads, self.slots = self.consts["w"], self.consts["g"], 0, [], []
        for t in self.src:  # w(l)'s slices of w and g, the latter shaped as w(l)
            self.slots.append(w[offset:offset + t.numel()])
            self.grads.append(g[offset:offset + t.numel()].view(t.shape))
            offset += t.numel()

    def weights(self) -> Tensor:
        """The flat weights w, copied into the penalty's buffer ``consts["w"]`` (a copy per tensor:
        a kernel repeated back to back costs less than ``torch.cat``'s one call)."""
        parts = self.parts if self.parts is not None else [t.reshape(-1) for t in self.src]
        for dst, src in zip(self.slots, parts):
            dst.copy_(src)
        return self.consts["w"]


class FlatPenalty:
    """``penalty`` bound to ``model``'s chosen tensors (``penalty.layers(model)``, chosen once).

    ``gradients(x=None) -> (grads, v, scale)``: the closed-form gradients gamma_l ∂E_l/∂w(l) of
    the tensors ``targets`` (views of buffers rewritten at the next call) and the penalty
    P = sum_l gamma_l E_l = scale · v, without touching ``.grad``; ``__call__(x=None) -> P``: the
    same gradients added to each ``.grad`` (made where it is None). The penalty's ``gamma`` (and
    its other settings) are read at every call, so :class:`~deepnets.adaptive_lambda.AdaptiveLambda`
    may change it between steps. ``x`` is ignored: a weight penalty does not need the data.
    """

    def __init__(self, penalty, model: torch.nn.Module):
        layers = penalty.layers(model)
        if not layers:
            raise ConfigError(f"{type(penalty).__name__}: the model has no {penalty.params!r} tensors to penalise")
        self.penalty, self.model = penalty, model
        by_kind: dict = {}
        for _, w, _ in layers:
            by_kind.setdefault((w.dtype, w.device), []).append(w)
        self.groups = [_Group(ws) for ws in by_kind.values()]
        self.targets = [w for ws in by_kind.values() for w in ws]
        self.grads: list[Tensor] = []
        self.seen = None  # the penalty's settings the constants were made for

    def _refresh(self) -> None:
        """Remake Γ and the penalty's buffers when its settings (gamma, w0, ...) changed."""
        gamma = self.penalty.gamma
        per_tensor = None if isinstance(gamma, float) else {id(w): g for _, w, g in self.penalty.layers(self.model)}
        for grp in self.groups:
            grp.make(self.penalty, gamma if per_tensor is None else [per_tensor[id(t)] for t in grp.tensors])
        self.grads = [g for grp in self.groups for g in grp.grads]
        self.seen = copy.deepcopy(vars(self.penalty))

    def gradients(self, x: Tensor | None = None) -> tuple[list[Tensor], Tensor, float]:
        """(grads aligned with ``targets``, v, scale), with the penalty P = scale · v."""
        if vars(self.penalty) != self.seen:
            self._refresh()
        v = None
        for grp in self.groups:
            vg, scale = self.penalty.flat_gradient(grp.weights(), grp.consts)
            v = vg if v is None else v + vg.to(v)
        return self.grads, v, scale

    def __call__(self, x: Tensor | None = None) -> Tensor:
        """P, with its gradient added to each target's ``.grad``."""
        grads, v, scale = self.gradients(x)
        for w, g in zip(self.targets, grads):
            if w.grad is None:
                w.grad = g.clone()
            else:
                w.grad.add_(g)
        return v * scale
