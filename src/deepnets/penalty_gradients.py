"""Weight penalties bound to a model: the closed-form gradient, fused where it can be.

A weight penalty sum_l gamma_l E_l(w(l)) is elementwise in the weights, so its gradient over all
the chosen tensors is one pass over their elements. Two ways of taking it, the same numbers:

- the **fused path** (CPU tensors of one dtype, float32 or float64, contiguous, Numba available,
  :mod:`deepnets._numba`): one compiled call of the penalty's loop (:mod:`deepnets.penalty_kernels`)
  over 1-D NumPy views of the parameters' own memory (made once, made again if a parameter's
  storage is replaced), writing gamma_l ∂E_l/∂w(l) and P into one flat buffer whose slices,
  shaped as the tensors, are the per-tensor gradients and whose last element is P: one dispatch
  where the torch path needs six or seven, on a small net the whole of the cost
  (``benchmarks/bench_penalty.py``);
- the **torch path** (any other tensors: GPU, float16, non-contiguous, mixed dtypes, or
  ``DEEPNETS_NO_NUMBA=1``): the weights copied into one flat vector w = [w(1); w(2); ...] per
  (dtype, device) with gamma_l spread over the elements of w(l) as a vector Γ, and a few
  elementwise kernels (``flat_constants(like, Γ, uniform=...)``, ``flat_gradient(w, consts) ->
  (v, scale)`` with P = scale · v) writing one flat buffer g whose slices, shaped as the tensors,
  are the per-tensor gradients.

Where the co-state step runs as one Numba call (:mod:`deepnets.train.costate_whole`), weight decay
and weight elimination are added inside that call (the same loops, reading ``gamma`` at every
step) and this module's paths are not used. Elsewhere a training step adds the gradients with no
pass of its own over ``.grad``: the co-state step has
the fused call add them to the ``.grad`` it has just written (:meth:`FlatPenalty.write_into` with
``add``, :meth:`FlatPenalty.added`), or passes each as the input of its weight-gradient GEMM
(``addmm``); and E + P in one op.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from . import _numba
from .errors import ConfigError

__all__ = ["FlatPenalty"]

_FUSED_DTYPES = (torch.float32, torch.float64)


class _Group:
    """The chosen tensors of one (dtype, device), the penalty's buffers for them and Γ (torch path)."""

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


class _Fused:
    """The fused path's views and buffers: ``ws`` (1-D NumPy views of the weights), ``grads``
    (where the gradients go: the tensors of ``outs`` where given, else slices, shaped as the
    weights, of one buffer of the penalty's own) and ``gs`` (their views), ``P`` (0-dim, the
    last element of that buffer) and ``out`` (its view), ``ones`` (``mult`` for one gamma), and
    ``call`` (``penalty.flat_fused(ws, gs, out, add)``: ``add``, the gradients added to ``outs``)."""

    def __init__(self, penalty, tensors: list[Tensor], outs: list | None = None, add: bool = False):
        src = [t.detach() for t in tensors]
        self.ws = tuple(t.reshape(-1).numpy() for t in src)  # views: the weights' own memory
        outs = outs or [None] * len(src)
        own = src[0].new_zeros(sum(t.numel() for t in src) + 1)  # (n + 1,) gradients, then P
        self.grads, offset = [], 0
        for t, o in zip(src, outs):
            self.grads.append(o if o is not None else own[offset:offset + t.numel()].view(t.shape))
            offset += t.numel()
        self.gs = tuple(g.detach().reshape(-1).numpy() for g in self.grads)
        self.P = own[-1]
        self.out = own[-1:].numpy()
        self.ones = (1.0,) * len(src)
        self.call = penalty.flat_fused(self.ws, self.gs, self.out, add)  # call(mult, gamma)
        self.result = (self.grads, self.P, 1.0)  # what gradients() returns: (grads, v, scale)

    @staticmethod
    def applies(penalty, tensors: list[Tensor]) -> bool:
        """Whether the fused path can take these tensors for this penalty."""
        first = tensors[0]
        return (getattr(penalty, "flat_fused", None) is not None and _numba.available()
                and first.dtype in _FUSED_DTYPES
                and all(t.device.type == "cpu" and t.dtype == first.dtype and t.is_contiguous() for t in tensors))


def _fits(out: Tensor, t: Tensor) -> bool:
    """Whether ``out`` can take ``t``'s gradient in place: its shape, dtype and device, contiguous."""
    return (out.shape == t.shape and out.dtype == t.dtype and out.device == t.device and out.is_contiguous()
            and not out.requires_grad)


class FlatPenalty:
    """``penalty`` bound to ``model``'s chosen tensors (``penalty.layers(model)``, chosen once).

    ``gradients(x=None) -> (grads, v, scale)``: the closed-form gradients gamma_l ∂E_l/∂w(l) of
    the tensors ``targets`` (buffers rewritten at the next call) and the penalty
    P = sum_l gamma_l E_l = scale · v (v a 0-dim tensor, also rewritten at the next call), without
    touching ``.grad``; ``__call__(x=None) -> P``: the same gradients added to each ``.grad`` (made
    where it is None). The penalty's ``gamma`` (and its other settings) are read at every call, so
    :class:`~deepnets.adaptive_lambda.AdaptiveLambda` may change it between steps. ``x`` is
    ignored: a weight penalty does not need the data.

    Args:
        penalty: a :class:`~deepnets.regularizers.Penalty` with a flat closed form.
        model: the module whose tensors it penalises.
        fused: take the fused path where it applies (see the module docstring). Default True;
            False keeps the torch path (to compare the two).
    """

    def __init__(self, penalty, model: torch.nn.Module, *, fused: bool = True):
        layers = penalty.layers(model)
        if not layers:
            raise ConfigError(f"{type(penalty).__name__}: the model has no {penalty.params!r} tensors to penalise")
        self.penalty, self.model, self.allow_fused, self.outs, self.add = penalty, model, fused, None, False
        by_kind: dict = {}
        for _, w, _ in layers:
            by_kind.setdefault((w.dtype, w.device), []).append(w)
        self.targets = [w for ws in by_kind.values() for w in ws]  # this order for good: the step's slots
        self._plan()

    def _plan(self) -> None:
        """Choose the path for the tensors as they are now and make its buffers."""
        by_kind: dict = {}
        for w in self.targets:
            by_kind.setdefault((w.dtype, w.device), []).append(w)
        fused = self.allow_fused and _Fused.applies(self.penalty, self.targets)
        self.fused = _Fused(self.penalty, self.targets, self.outs, self.add) if fused else None
        self.adds = fused and self.add  # gradients() adds to the tensors of outs (all of them)
        self.groups = [] if self.fused is not None else [_Group(ws) for ws in by_kind.values()]
        self.grads: list[Tensor] = [] if self.fused is None else self.fused.grads
        self.seen = None  # the penalty's settings the constants (torch path) or gammas (fused) were made for
        self.mult = None
        self.ptrs = tuple(map(Tensor.data_ptr, self.targets))  # the storage the views were made of

    def write_into(self, outs: list, *, add: bool = False) -> None:
        """Write the gradients into ``outs`` (aligned with ``targets``; None: the penalty's own
        buffer), or with ``add`` add them to what ``outs`` hold, from the next call on, where the
        fused path applies: a training step passes its own ``.grad`` tensors, holding the data
        gradient (``add``) or to add it into them in place. A tensor not of its target's shape,
        dtype and device, contiguous and outside any graph is not taken (with ``add``: refused,
        ValueError). ``gradients()`` gives the tensors written (those of ``outs`` taken, on the
        fused path; ``adds`` says whether it added to them); :meth:`__call__` is refused from then on."""
        if len(outs) != len(self.targets):
            raise ValueError(f"write_into: expected {len(self.targets)} tensors (None for none), got {len(outs)}")
        taken = [o if o is not None and _fits(o, t) else None for o, t in zip(outs, self.targets)]
        if add and None in taken:
            raise ValueError("write_into(add=True): every target needs a tensor of its shape, dtype and device")
        self.outs, self.add = taken, add
        self._plan()

    def _gammas(self) -> list[float]:
        """gamma_l of each target under the penalty's current (per-tensor) gamma."""
        per_tensor = {id(w): g for _, w, g in self.penalty.layers(self.model)}
        return [per_tensor[id(t)] for t in self.targets]

    def _refresh(self) -> None:
        """Remake Γ and the penalty's buffers when its settings (gamma, w0, ...) changed (torch path)."""
        gamma = self.penalty.gamma
        gammas = None if isinstance(gamma, float) else dict(zip(map(id, self.targets), self._gammas()))
        for grp in self.groups:
            grp.make(self.penalty, gamma if gammas is None else [gammas[id(t)] for t in grp.tensors])
        by_id = {id(t): g for grp in self.groups for t, g in zip(grp.tensors, grp.grads)}
        self.grads = [by_id[id(t)] for t in self.targets]  # aligned with targets
        self.seen = copy.deepcopy(vars(self.penalty))

    def _mult(self, gamma) -> tuple[float, ...]:
        """The per-tensor gamma_l as the fused call's ``mult``, made again when ``gamma`` changed."""
        if gamma != self.seen:
            self.mult = tuple(float(g) for g in self._gammas())
            self.seen = copy.deepcopy(gamma)
        return self.mult

    def gradients(self, x: Tensor | None = None) -> tuple[list[Tensor], Tensor, float]:
        """(grads aligned with ``targets``, v, scale), with the penalty P = scale · v."""
        if tuple(map(Tensor.data_ptr, self.targets)) != self.ptrs:  # a parameter's storage was replaced
            self._plan()  # (``p.data = ...``; ``load_state_dict`` copies in place)
        f = self.fused
        if f is not None:  # one call; gamma read at every call (AdaptiveLambda changes it)
            gamma = self.penalty.gamma
            if type(gamma) is float:
                f.call(f.ones, gamma)
            else:  # one gamma per tensor: gamma_l = 1 · mult[l]
                f.call(self._mult(gamma), 1.0)
            return f.result
        penalty = self.penalty
        if vars(penalty) != self.seen:
            self._refresh()
        v = None
        for grp in self.groups:
            vg, scale = penalty.flat_gradient(grp.weights(), grp.consts)
            v = vg if v is None else v + vg.to(v)
        return self.grads, v, scale

    def added(self) -> Tensor | None:
        """After ``write_into(outs, add=True)``, on the fused path: the gradients added to ``outs``
        and P returned (0-dim, rewritten at the next call), in the least Python; None, nothing
        added, where that no longer holds (a weight's memory replaced: the caller takes
        :meth:`gradients`)."""
        f = self.fused
        if f is None or not self.add or tuple(map(Tensor.data_ptr, self.targets)) != self.ptrs:
            return None
        gamma = self.penalty.gamma
        if type(gamma) is float:
            f.call(f.ones, gamma)
        else:
            f.call(self._mult(gamma), 1.0)
        return f.P

    def __call__(self, x: Tensor | None = None) -> Tensor:
        """P, with its gradient added to each target's ``.grad``."""
        if self.outs is not None:
            raise RuntimeError("FlatPenalty writes its gradients into a step's tensors (write_into): "
                               "call gradients(), not the bound penalty")
        grads, v, scale = self.gradients(x)
        for w, g in zip(self.targets, grads):
            if w.grad is None:
                w.grad = g.clone()
            else:
                w.grad.add_(g)
        return v * scale
