"""The callback protocol, the list that calls the hooks, and the :class:`History` of a run.

Order (Keras's): ``on_train_begin`` → per epoch ``on_epoch_begin`` → per batch
``on_batch_begin``, ``on_after_backward`` (inside the optimizer's closure, before the update),
``on_batch_end`` → ``on_epoch_end`` (logs hold ``loss``, ``val_loss`` and ``val_<metric>``) → …
→ ``on_train_end``. A callback stops training by setting ``self.loop.stop_training = True``.
``self.loop`` is the running :class:`~deepnets.train.loop.Loop` (model, optimizer, epoch, ...).
When training fails with an error, ``on_train_end`` is not called; a callback that changed
something outside the run (signal handlers) defines ``on_train_abort()`` to put it back.

A callback with ``state_dict()`` and ``load_state_dict(state)`` is checkpointed and resumed with
the run; states are keyed by class name, numbered from the second callback of a class on
(``EarlyStopping``, ``EarlyStopping.2``), so resume with the same callbacks in the same order.
"""

from __future__ import annotations

import collections

import torch


class Callback:
    """Base class: override the hooks you need; ``self.loop`` is set before training starts."""

    loop = None

    def set_loop(self, loop) -> None:
        self.loop = loop

    def on_train_begin(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_batch_begin(self, batch, logs=None): ...
    def on_after_backward(self, batch, loss): ...
    def on_batch_end(self, batch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_end(self, logs=None): ...


class CallbackList(Callback):
    """Calls each hook on every callback, in the order given; holds their states for checkpoints."""

    HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_after_backward",
             "on_batch_end", "on_epoch_end", "on_train_end")

    def __init__(self, callbacks):
        self.callbacks = list(callbacks)
        # only the callbacks that override a hook are called for it (the batch hooks are hot)
        for hook in self.HOOKS:
            fns = [getattr(c, hook) for c in self.callbacks if getattr(type(c), hook) is not getattr(Callback, hook)]
            setattr(self, hook, self._caller(fns))

    @staticmethod
    def _caller(fns):
        def call(*args):
            for f in fns:
                f(*args)
        call.fns = fns
        return call

    def active(self, hook: str):
        """The caller of ``hook``, or None when no callback overrides it (the loop skips it): the
        one callback's own method where only one does (no loop over a list of one per batch)."""
        fns = getattr(self, hook).fns
        return None if not fns else fns[0] if len(fns) == 1 else getattr(self, hook)

    def __iter__(self):
        return iter(self.callbacks)

    def set_loop(self, loop):
        for c in self.callbacks:
            c.set_loop(loop)

    def _keyed(self):
        seen: collections.Counter = collections.Counter()
        for c in self.callbacks:
            name = type(c).__name__
            seen[name] += 1
            yield (name if seen[name] == 1 else f"{name}.{seen[name]}"), c

    def state_dict(self) -> dict:
        """``{key: state}`` of every callback with a ``state_dict`` (keys as the module says)."""
        return {k: c.state_dict() for k, c in self._keyed() if hasattr(c, "state_dict")}

    def load_state_dict(self, state: dict) -> None:
        """Give each callback with ``load_state_dict`` its saved state, if the checkpoint has one."""
        for k, c in self._keyed():
            if hasattr(c, "load_state_dict") and k in state:
                c.load_state_dict(state[k])


class History(Callback):
    """Records each epoch's logs: ``history.history["val_loss"][e]``, ``history.epoch``."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.stop_reason: str | None = None

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def __getitem__(self, key):
        return self.history[key]

    def __repr__(self):
        last = {k: round(v[-1], 5) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last})"


def pack_series(values: list):
    """A history column as one tensor when that loses nothing: all Python floats, finite (float64:
    the same bits), or all ints (int64); otherwise (mixed, NaN, empty) the list itself. One object
    to pickle instead of one per epoch, so a checkpoint's ``state.pt`` stays far below the
    ``pickle_ops`` cap however long the run."""
    if values and all(type(v) is float for v in values):
        t = torch.tensor(values, dtype=torch.float64)
        return t if bool(torch.isfinite(t).all()) else list(values)
    if values and all(type(v) is int for v in values) and all(-2 ** 63 <= v < 2 ** 63 for v in values):
        return torch.tensor(values, dtype=torch.int64)
    return list(values)


def unpack_series(values) -> list:
    """The list :func:`pack_series` packed (a list as it is: checkpoints before packing hold lists)."""
    return values.tolist() if isinstance(values, torch.Tensor) else list(values)
