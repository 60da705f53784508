"""``optimizer.step()`` for torch's fused Adam and AdamW, without the per-call Python around it.

For a small network each update is a few microseconds of arithmetic inside torch's fused kernel
and tens of microseconds of bookkeeping around it (hooks, profiler ranges, grouping tensors by
device and dtype, grad-mode switches). :func:`fused_adam_step` returns a function that calls the
same kernel on the same state tensors with the same hyperparameters read from ``param_groups``,
so the weights, ``optimizer.state`` and ``state_dict()`` are bit for bit those of
``optimizer.step()`` (tested); ``benchmarks/bench_mlp.py`` times the whole training step it is
part of against scikit-learn and a plain PyTorch loop.

The update (Kingma & Ba 2015; AdamW: Loshchilov & Hutter 2019, weight decay decoupled):

    t ← t + 1;  m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²
    w ← w − η (m / (1 − β₁ᵗ)) / (sqrt(v / (1 − β₂ᵗ)) + ε)

It applies only where the shortcut cannot change behaviour: an ``Adam``/``AdamW`` built with
``fused=True``, no step hooks (the optimizer's or the global ones), no ``capturable``,
``differentiable`` or tensor learning rate, and every parameter's state already created (the
first step goes through ``optimizer.step()``, which creates it). Anything else returns None
and :func:`deepnets.fit` calls ``optimizer.step`` as usual.
"""

from __future__ import annotations

import operator
from typing import Callable

import torch
from torch.optim import optimizer as _opt

from .. import _numba


def _no_hooks(optimizer: torch.optim.Optimizer) -> bool:
    return not (getattr(optimizer, "_optimizer_step_pre_hooks", None)
                or getattr(optimizer, "_optimizer_step_post_hooks", None)
                or getattr(_opt, "_global_optimizer_pre_hooks", None)
                or getattr(_opt, "_global_optimizer_post_hooks", None))


def fused_adam_step(optimizer: torch.optim.Optimizer) -> Callable[[], None] | None:
    """A function doing ``optimizer.step()`` (no closure) for a fused torch Adam/AdamW, or None.

    The returned function falls back to ``optimizer.step()`` whenever a parameter has no state
    yet or no gradient, and checks the conditions above again at every call (hooks added later,
    a scheduler setting a tensor learning rate), so it is always safe to call.
    """
    kernel = getattr(torch, "_fused_adam_", None), getattr(torch, "_fused_adamw_", None)
    if type(optimizer) not in (torch.optim.Adam, torch.optim.AdamW) or None in kernel:
        return None
    if not all(g.get("fused") and not g.get("capturable") and not g.get("differentiable")
               and not g.get("maximize") for g in optimizer.param_groups):
        return None
    counters: dict = {}  # group index -> (one tensor of every step count, its views held in the state, adder)

    def shared_steps(i: int, params, steps, state):
        """The group's step counts as views of one tensor, so one addition counts them all (on
        the CPU through its NumPy view, by one compiled call where Numba may be used: a fraction
        of an ``add_``'s dispatch, or of a NumPy ufunc's in a step's context; the same +1)."""
        held = counters.get(i)
        if held is None or len(held[1]) != len(steps) or not all(map(operator.is_, held[1], steps)):
            buf = torch.stack([s.detach() for s in steps])   # (P,) the same values, one storage
            views = tuple(buf[k] for k in range(len(steps)))
            for p, v in zip(params, views):
                state[p]["step"] = v
            held = counters[i] = (buf, views, buf.numpy() if buf.device.type == "cpu" else None)
        return held

    increment = [None] if _numba.available() else None  # the compiled _add_one, at its first use

    def step() -> None:
        if not _no_hooks(optimizer):
            optimizer.step()
            return
        work = []
        state = optimizer.state  # read at each call: load_state_dict replaces the dict
        for group in optimizer.param_groups:
            params = group["params"]
            grads, m, v, vmax, steps = [], [], [], [], []
            amsgrad = group["amsgrad"]
            for p in params:
                s = state.get(p)
                g = p.grad
                if s is None or g is None or "exp_avg" not in s:
                    optimizer.step()  # first step (creates the state) or a parameter without a gradient
                    return
                grads.append(g)
                m.append(s["exp_avg"])
                v.append(s["exp_avg_sq"])
                steps.append(s["step"])
                if amsgrad:
                    vmax.append(s["max_exp_avg_sq"])
            if isinstance(group["lr"], torch.Tensor):
                optimizer.step()
                return
            work.append((group, params, grads, m, v, vmax, steps))
        for i, (group, params, grads, m, v, vmax, steps) in enumerate(work):
            if not params:
                continue
            buf, views, counts = shared_steps(i, params, steps, state)
            if counts is None:
                buf.add_(1)
            elif increment is not None:  # one compiled call: a fraction of a NumPy ufunc's dispatch in a step
                add = increment[0]
                if add is None:
                    add = increment[0] = _ADD_ONE.dispatcher()
                add(counts)
            else:
                counts += 1
            beta1, beta2 = group["betas"]
            decoupled = group.get("decoupled_weight_decay", type(optimizer) is torch.optim.AdamW)
            (kernel[1] if decoupled else kernel[0])(
                params, grads, m, v, vmax, list(views), amsgrad=group["amsgrad"], lr=group["lr"], beta1=beta1,
                beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"], maximize=False)

    return step



def _add_one(counts):
    """counts ← counts + 1 (Adam's step counts, through their NumPy view)."""
    for i in range(counts.shape[0]):
        counts[i] += 1


_ADD_ONE = _numba.kernel(_add_one)  # compiled (or loaded from Numba's cache) at its first call
