"""One training step on a batch: how the gradient is taken, and how the update is applied.

A step ``step(batch, b) -> E`` writes ∂E/∂W into every ``.grad``, calls the callbacks'
``on_after_backward(b, E)``, updates the weights and returns the batch cost E (detached). The
strategy is chosen once, by :func:`make_step` from the literal registry :data:`STEPS`:

- ``"costate"``: a deepnets MLP (no autocast, no compile) with a loss ``(pred, target)``: the
  lecture's co-state recursion ∂E/∂W(l) = δ(l) ẑ(l−1)ᵀ, with no autograd graph
  (:func:`~deepnets.backprop.costate_backward`), a closed-form penalty's gradient added to the
  ``.grad`` the step wrote, or taken in as the input of its weight-gradient GEMMs
  (:mod:`deepnets.penalty_gradients`); on the CPU, where :mod:`deepnets.train.costate_whole`
  takes the net, the step and a weight decay or elimination penalty are one Numba call;
- ``"autograd"``: any other module: ``E = loss(model(x), y)``, ``E.backward()`` (under
  ``torch.autocast`` for bf16);
- ``"batch_loss"``: a :class:`~deepnets.train.batches.BatchLoss`: ``E = loss(model, batch)``,
  ``E.backward()``;
- ``"kalman"``: an optimizer whose closure returns ``(outputs, targets)`` (the extended Kalman
  filters and Levenberg-Marquardt), which takes the Jacobians itself; one marked ``lms_only``
  (Levenberg-Marquardt) trains on the LMS loss alone.

The update is ``optimizer.step(closure)`` for every optimizer, so line searches and
second-order methods re-evaluate the closure as they need; for torch's fused Adam/AdamW the
closure runs once and Adam's fused kernel is called directly (:mod:`deepnets.train.fused_step`:
the same kernel and state, bit for bit, without ``step()``'s Python wrapper).
"""

from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from ..backprop import costate_backward
from ..errors import ConfigError
from ..losses import LMS, code_targets
from ..nn.mlp import supports_costate
from .batches import BatchLoss
from .costate_buffers import CostateBuffers
from .fused_step import fused_adam_step


def _whole_kind(penalty) -> int:
    """The code of a penalty the whole-step kernel adds itself (costate_whole_kernels._penalty),
    from its class's own ``whole_kind`` (:class:`~deepnets.regularizers.WeightDecay` 1,
    ``WeightElimination`` 2; not inherited: a subclass may change the formula), else 0."""
    return int(vars(type(penalty)).get("whole_kind", 0))


class Step:
    """Base: subclasses define ``gradients(batch) -> E`` (∂E/∂W written into ``.grad``).

    Args:
        model: the module trained (its DDP wrapper under torchrun).
        optimizer: a ``torch.optim.Optimizer``.
        loss: the cost (as :func:`deepnets.fit` resolved it).
        forward: the module that runs the forward pass (``torch.compile(model)``). Default: model.
        penalty: ``penalty(model, x) -> P``, added to E with its gradient: by its own
            ``bind(model)`` where it has one (closed form, :mod:`deepnets.regularizers`), else by
            autograd. Default None.
        after_backward: called as ``after_backward(b, E)`` after the gradient, before the update.
        transform: ``transform(batch) -> batch`` before the step (input noise, channels-last).
        amp: the autocast dtype (``torch.bfloat16``) or None. Default None.
        validate: check class labels at every step (False when ``fit`` checked them once).
    """

    def __init__(self, model, optimizer, loss, *, forward=None, penalty=None,
                 after_backward: Callable | None = None, transform: Callable | None = None, amp=None,
                 validate: bool = True):
        self.model, self.optimizer, self.loss = model, optimizer, loss
        self.forward = model if forward is None else forward
        self.penalty, self.after_backward, self.transform = penalty, after_backward, transform
        self.amp, self.validate = amp, validate
        self.fused = fused_adam_step(optimizer)  # Adam's kernel without its wrapper, or None
        # a penalty with a closed-form gradient is bound to the model's tensors once
        self.add_penalty = penalty.bind(model) if hasattr(penalty, "bind") else None
        self.penalty_in_gradients = False  # True where gradients() adds the penalty itself

    def gradients(self, batch) -> Tensor:
        raise NotImplementedError

    def finite_check(self) -> Callable | None:
        """``check(params) -> bool | None``: whether every ``.grad`` of ``params`` is finite, in
        one pass, where the step keeps them in one flat tensor (the fused co-state step; None
        from ``check`` where they are not those), or None for a step that cannot tell."""
        fused = getattr(getattr(self, "buffered", None), "fused", None)  # CostateStep's fused kernels
        return None if fused is None else fused.gradients_finite

    def closure(self, batch, b: int) -> Tensor:
        """E of ``batch`` with every gradient written, the penalty added, the callbacks told."""
        E = self.gradients(batch)
        if self.penalty is not None and not self.penalty_in_gradients:
            if self.add_penalty is not None:  # closed form: no graph, no backward
                P = self.add_penalty(batch[0])
            else:
                with torch.enable_grad():
                    P = self.penalty(self.model, batch[0])
                    P.backward()
            E = E.detach() + P.detach()
        if self.after_backward is not None:
            self.after_backward(b, E)
        return E

    def __call__(self, batch, b: int) -> Tensor:
        """One update on ``batch`` (the ``b``-th of its epoch); returns its cost E, detached."""
        if self.transform is not None:
            batch = self.transform(batch)
        if self.fused is None:
            return self.optimizer.step(lambda: self.closure(batch, b)).detach()
        E = self.closure(batch, b)
        self.fused()
        return E.detach() if E.requires_grad else E  # (the co-state step's E has no graph)


class CostateStep(Step):
    """The co-state recursion of a deepnets MLP: every gradient written afresh (nothing to zero),
    on buffers kept per batch size (:mod:`deepnets.train.costate_buffers`, the same numbers)."""

    def __init__(self, model, optimizer, loss, **kw):
        super().__init__(model, optimizer, loss, **kw)
        self.params = model.flat_params()  # the same Parameter objects all run long
        self.buffered = CostateBuffers(self.params, model.activations, loss, validate=self.validate)
        # a penalty whose bound form gives its gradients (closed form) is added to the .grad the
        # step wrote (after-step) or inside its GEMMs, E + P in one op (benchmarks/bench_penalty.py)
        index = {id(p): i for i, p in enumerate(self.params) if p is not None}
        slots = [index.get(id(t)) for t in getattr(self.add_penalty, "targets", [None])]
        self.penalty_in_gradients = hasattr(self.add_penalty, "gradients") and None not in slots
        self.slots, self.extra, self.seen = slots, None, None
        # from the second step on, the penalty adds its gradients to the .grad the step wrote (or
        # writes them into the weights' .grad, the input of their GEMMs): see _wire
        self.wire = self.penalty_in_gradients and hasattr(self.add_penalty, "write_into")
        self.after = None  # [(target, the .grad the penalty adds to)] once it adds after the step
        # weight decay or elimination inside the whole-step kernel (costate_whole), where it runs
        kind = _whole_kind(getattr(self.add_penalty, "penalty", None))
        self.whole_penalty = kind if self.penalty_in_gradients and self.buffered.fused is not None else 0
        self.whole_args, self.whole_gamma = None, None
        self.note = getattr(self.add_penalty, "note", None)
        self.trainable = self._trainable()

    def _trainable(self) -> tuple:
        return tuple(p is not None and p.requires_grad for p in self.params)

    def _frozen_since(self) -> None:
        """A parameter frozen during the run (``requires_grad = False``, by a callback) loses its
        ``.grad``, as torch's ``zero_grad`` would clear it: the step writes none for it, and an
        optimizer skips a parameter without one (a stale gradient would go on moving it)."""
        self.trainable = self._trainable()
        for p, t in zip(self.params, self.trainable):
            if p is not None and not t:
                p.grad = None

    def gradients(self, batch) -> Tensor:
        if self._trainable() != self.trainable:
            self._frozen_since()
        x = batch[0]
        if x.dim() != 2 or x.shape[1] != self.model.sizes[0]:  # the unbuffered step names the error
            return costate_backward(self.model, x, batch[1], self.loss, validate=self.validate,
                                    params=self.params, overwrite=True)
        if not self.penalty_in_gradients:
            return self.buffered.gradients(x, batch[1])
        if self.whole_penalty:  # E + P and every gradient in one kernel call
            E = self.buffered.gradients(x, batch[1], penalty=self._whole_penalty_args())
            if E is not None:
                if self.note is not None:  # a penalty that keeps each P (AdaptiveLambda)
                    self.note(torch.scalar_tensor(self.buffered.whole_plan(x).P, dtype=E.dtype))
                return E
            if self.buffered.whole_plan(x) is None:  # not the kernel's net: the penalty's own path from now on
                self.whole_penalty = 0
        if self.wire and self.seen is None and getattr(self.add_penalty, "fused", None) is not None:
            return self._first_fused(x, batch[1])
        if self.wire:
            self.wire = self._wire()
        if self.after is not None:
            return self._penalty_after(x, batch[1])
        grads, v, scale = self.add_penalty.gradients(x)  # P = scale · v
        if grads is not self.seen:  # (a flat penalty gives the same tensors every step)
            self.extra, self.seen = [None] * len(self.params), grads
            for i, g in zip(self.slots, grads):
                self.extra[i] = g  # the input of W(l)'s GEMM (in place where it is W(l).grad), added to b(l)'s
        E = self.buffered.gradients(x, batch[1], self.extra)  # the step's own new tensor: P added in place
        return E.add_(v) if scale == 1.0 and E.dtype == v.dtype else torch.add(E, v, alpha=scale)


    def _whole_penalty_args(self) -> tuple:
        """``(kind, slots, gammas, w0)`` of the penalty for the whole-step kernel, its gammas read
        at every step (AdaptiveLambda changes them) and the arrays made again only when they change."""
        pen = self.add_penalty.penalty
        gamma = pen.gamma
        if self.whole_args is None or gamma != self.whole_gamma:
            gammas = [gamma] * len(self.slots) if type(gamma) is float else self.add_penalty._gammas()
            self.whole_args = (self.whole_penalty, np.array(self.slots, dtype=np.int64),
                               np.array(gammas, dtype=np.float64))
            self.whole_gamma = copy.deepcopy(gamma)
        return (*self.whole_args, float(getattr(pen, "w0", 1.0)))

    def _wire(self) -> bool:
        """Once a first step has made every ``.grad`` (the fused step's views of one flat tensor, or
        the torch path's own): where every penalised tensor has one the penalty takes, the step runs
        as without a penalty and the penalty then adds its gradients to them (``write_into(add=True)``,
        :meth:`_penalty_after`); else the penalty writes into the weights' ``.grad``, the input of
        their GEMMs, which add the data gradient in place (biases keep the penalty's buffers: their
        gradient is a sum written over ``.grad``). True while no step has made them: try at the next."""
        if self.seen is None:
            return True
        pen, targets = self.add_penalty, [self.params[i] for i in self.slots]
        if all(p.requires_grad for p in targets):
            if any(p.grad is None for p in targets):  # (set to None since): the step makes them again
                return True
            if self._wire_adding(targets):
                return False
        pen.write_into([p.grad if i % 2 == 0 and p.requires_grad else None for i, p in zip(self.slots, targets)])
        return False

    def _first_fused(self, x: Tensor, target: Tensor) -> Tensor:
        """The first step with a fused penalty: the step as without one (it makes every ``.grad``),
        then the penalty wired to add its gradients to them, as every later step does: the same
        arithmetic from the first step on, so a resumed run (whose first step is this one) is bit
        for bit the uninterrupted one."""
        E = self.buffered.gradients(x, target)
        targets = [self.params[i] for i in self.slots]
        if all(p.requires_grad and p.grad is not None for p in targets) and self._wire_adding(targets):
            self.wire, self.seen = False, ()
            return self._penalty_after(x, target, E)
        self.add_penalty.write_into([None] * len(targets))  # its own buffers, this once; wired at the next step
        E, self.seen = self._add_own(E, x)
        return E

    def _wire_adding(self, targets: list) -> bool:
        """The penalty set to add its gradients to the ``.grad`` of ``targets`` (the fused path:
        :meth:`_penalty_after`); False where it cannot take them or is not on its fused path."""
        try:
            self.add_penalty.write_into([p.grad for p in targets], add=True)
        except ValueError:  # a .grad the penalty cannot take
            return False
        if not self.add_penalty.adds:  # (the torch path writes its own buffers)
            return False
        self.after = [(p, p.grad) for p in targets]
        return True

    def _add_own(self, E: Tensor, x: Tensor) -> tuple[Tensor, list]:
        """(E + P, the gradients): the penalty's gradients from its own buffers added to each ``.grad``."""
        pen = self.add_penalty
        grads, v, scale = pen.gradients(x)
        for q, h in zip(pen.targets, grads):
            if q.grad is not None and q.requires_grad:
                q.grad.add_(h)
        return torch.add(E, v, alpha=scale), grads

    def _penalty_after(self, x: Tensor, target: Tensor, E: Tensor | None = None) -> Tensor:
        """E + P, the step run as without a penalty (the fused step's own path) and the penalty's
        gradients added to each ``.grad`` in the same call that gives P (``E``: the step already run)."""
        E = self.buffered.gradients(x, target) if E is None else E
        pen = self.add_penalty
        for p, g in self.after:
            if p.grad is not g:
                break
        else:
            P = pen.added()  # the gradients added to each .grad, and P
            if P is not None:
                return E.add_(P) if E.dtype == P.dtype else torch.add(E, P)
        # a .grad replaced (zero_grad(set_to_none=True), ...), or a weight's memory by one the
        # fused path cannot take: the penalty's own buffers, written afresh and added here; wire again
        pen.write_into([None] * len(self.after))
        self.after, self.seen, self.wire = None, None, True
        return self._add_own(E, x)[0]


class AutogradStep(Step):
    """Autograd through any module: ``cost(batch).backward()``, the cost under autocast."""

    def __init__(self, model, optimizer, loss, **kw):
        super().__init__(model, optimizer, loss, **kw)
        self.params = [p for g in optimizer.param_groups for p in g["params"]]
        self.device_type = next((p.device.type for p in model.parameters()), "cpu")

    def cost(self, batch) -> Tensor:
        return self.loss(self.forward(batch[0]), batch[1])

    def gradients(self, batch) -> Tensor:
        for p in self.params:  # zero_grad(set_to_none=True) without its profiler overhead
            p.grad = None
        with torch.enable_grad():  # as optimizer.step(closure) would (the fused path has no step)
            with torch.autocast(self.device_type, dtype=self.amp or torch.float32, enabled=self.amp is not None):
                E = self.cost(batch)
            E.backward()
        return E


class BatchLossStep(AutogradStep):
    """Autograd through a :class:`~deepnets.train.batches.BatchLoss`: ``E = loss(model, batch)``."""

    def cost(self, batch) -> Tensor:
        return self.loss(self.forward, batch)


class KalmanStep(Step):
    """The extended Kalman filters and Levenberg-Marquardt: the closure measures ``(outputs,
    targets)``, labels coded; the optimizer differentiates the outputs itself (no
    ``on_after_backward``, no penalty)."""

    def __init__(self, model, optimizer, loss, **kw):
        super().__init__(model, optimizer, loss, **kw)
        if self.penalty is not None:  # refused rather than silently left out of the update
            raise ConfigError(f"{type(optimizer).__name__} updates from (outputs, targets) alone: a penalty has "
                              f"no place in its measurement; train without one, or with another optimizer")

    def __call__(self, batch, b: int) -> Tensor:
        if self.transform is not None:
            batch = self.transform(batch)
        x, y, model = batch[0], batch[1], self.model

        def measure():
            out = model(x)
            return out, (y if y.is_floating_point() else code_targets(y, out.shape[1]))

        return self.optimizer.step(measure).detach()


#: strategy name -> class (see the module docstring)
STEPS = {"costate": CostateStep, "autograd": AutogradStep, "batch_loss": BatchLossStep, "kalman": KalmanStep}


def step_kind(model, optimizer, loss, *, amp=None, compile: bool = False) -> str:
    """The name in :data:`STEPS` of the strategy for this model, optimizer and loss."""
    if getattr(optimizer, "closure_returns", None) == "outputs_targets":
        if isinstance(loss, BatchLoss):
            raise ConfigError(f"{type(optimizer).__name__} measures (outputs, targets) itself: "
                              f"it cannot train on a batch loss")
        if getattr(optimizer, "lms_only", False) and not isinstance(loss, LMS):
            raise ConfigError(f"{type(optimizer).__name__} minimises the LMS error ½ Σ (z − ẑ)²: expected "
                              f"loss='lms', got {loss!r}")
        return "kalman"
    if isinstance(loss, BatchLoss):
        return "batch_loss"
    return "costate" if supports_costate(model) and amp is None and not compile else "autograd"


def input_transform(*, noise_std: float = 0.0, channels_last: bool = False,
                    generator: torch.Generator | None = None) -> Callable | None:
    """``batch -> batch`` with the inputs ``batch[0]`` in channels-last memory format (4-D) and
    Gaussian noise of standard deviation ``noise_std`` from ``generator`` added; None if neither."""
    if not noise_std and not channels_last:
        return None

    def transform(batch):
        x = batch[0]
        if channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        if noise_std:
            x = x + noise_std * torch.randn(x.shape, generator=generator).to(x.device, x.dtype)
        return (x, *batch[1:])

    return transform


def make_step(model, optimizer, loss, *, amp=None, compile: bool = False, **options) -> Step:
    """The step for this model, optimizer and loss, chosen once (:func:`step_kind`).

    Args:
        model, optimizer, loss: as :class:`Step` takes them.
        amp: the autocast dtype or None. Default None.
        compile: the forward pass runs through ``torch.compile`` (no co-state path). Default False.
        **options: the other keyword arguments of :class:`Step`.
    """
    return STEPS[step_kind(model, optimizer, loss, amp=amp, compile=compile)](model, optimizer, loss, amp=amp,
                                                                              **options)
