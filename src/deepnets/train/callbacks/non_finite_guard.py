"""The non-finite guard: stop at the first NaN or inf loss or gradient, before the update."""

from __future__ import annotations

import math

import torch

from ...errors import TrainingDiverged
from .base import Callback


class NonFiniteGuard(Callback):
    """Stop at the first non-finite loss or gradient, before the optimizer applies it.

    Raises :class:`~deepnets.errors.TrainingDiverged` naming the epoch and batch; the weights stay
    those before the failing step. :func:`deepnets.fit` installs it unless told not to.
    """

    _fast = None  # the step's own one-pass check of its gradients, or None

    def on_train_begin(self, logs=None):
        self._found = None
        # a step that checks its own gradients in one pass (the fused co-state step)
        check = getattr(getattr(self.loop, "step_fn", None), "finite_check", None)
        self._fast = None if check is None else check()

    def _all_finite(self, tensors) -> bool:
        """One fused kernel per dtype over every tensor (GradScaler's inf/NaN check with scale 1:
        it multiplies by exactly 1 in place, which leaves every value as it was)."""
        t0 = tensors[0]
        if self._found is None or self._found.device != t0.device:
            self._found = torch.zeros(1, device=t0.device)  # stays 0 until a check finds one
            self._one = torch.ones(1, device=t0.device)
        dtype = t0.dtype
        try:
            if all(t.dtype is dtype for t in tensors):  # the usual case: no grouping needed
                torch._amp_foreach_non_finite_check_and_unscale_(tensors, self._found, self._one)
            else:
                by_dtype: dict = {}
                for t in tensors:
                    by_dtype.setdefault(t.dtype, []).append(t)
                for group in by_dtype.values():
                    torch._amp_foreach_non_finite_check_and_unscale_(group, self._found, self._one)
        except (RuntimeError, NotImplementedError):  # pragma: no cover - a backend without the kernel
            return all(bool(torch.isfinite(t).all()) for t in tensors)
        if bool(self._found):
            self._found = None  # training stops here; a fresh flag for any later check
            return False
        return True

    def on_after_backward(self, batch, loss):
        fast = self._fast
        if fast is not None and fast(self.loop.params) and math.isfinite(loss.item()):
            return
        grads = [g for p in self.loop.params if (g := p.grad) is not None and g.is_floating_point()]
        loss = loss.detach()
        if self._all_finite([*grads, loss.reshape(1) if loss.is_floating_point() else loss.float().reshape(1)]):
            return
        if not bool(torch.isfinite(loss).all()):
            bad = f"loss is {float(loss.detach().sum())}"
        else:
            names = [n for n, p in self.loop.named_params if p.grad is not None]
            first = next((n for n, g in zip(names, grads) if not bool(torch.isfinite(g).all())), None)
            bad = f"the gradient of {first!r} is not finite" if first else "the gradient norm overflows"
        if bad:
            raise TrainingDiverged(
                f"non-finite values at epoch {self.loop.epoch + 1}, batch {batch + 1}: {bad}; training stopped "
                f"with the weights from before this step (lower the learning rate or check the data)")
