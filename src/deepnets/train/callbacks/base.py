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
import math

import numpy as np
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

    def packed(self) -> dict:
        """``{"epoch": column, "logs": {key: column}}``, each column as :func:`pack_series` packs it,
        packed incrementally: only the values appended since the last call are converted, so a
        checkpoint every epoch costs O(1) Python an epoch, not O(epochs). A column is treated as
        an append-only record; a list replaced (``load_state_dict``) or shortened is packed anew."""
        packers = self.__dict__.setdefault("_packers", {})
        out = {"epoch": _packer(packers, "epoch").pack(self.epoch), "logs": {}}
        for k, v in self.history.items():
            out["logs"][k] = _packer(packers, ("logs", k)).pack(v)
        return out

    def __repr__(self):
        last = {k: round(v[-1], 5) for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last})"


def pack_series(values: list):
    """A history column as one tensor when that loses nothing: all Python floats, finite (float64:
    the same bits), or all ints (int64); otherwise (mixed, NaN, empty) the list itself. One tensor
    in the checkpoint file instead of one JSON value per epoch, so a checkpoint's header stays far
    below the ``json_containers`` cap however long the run."""
    if values and all(type(v) is float for v in values):
        t = torch.tensor(values, dtype=torch.float64)
        return t if bool(torch.isfinite(t).all()) else list(values)
    if values and all(type(v) is int for v in values) and all(-2 ** 63 <= v < 2 ** 63 for v in values):
        return torch.tensor(values, dtype=torch.int64)
    return list(values)


def unpack_series(values) -> list:
    """The list :func:`pack_series` packed (a list as it is: checkpoints before packing hold lists)."""
    return values.tolist() if isinstance(values, torch.Tensor) else list(values)


def _packer(packers: dict, key) -> "SeriesPacker":
    packer = packers.get(key)
    if packer is None:
        packer = packers[key] = SeriesPacker()
    return packer


class SeriesPacker:
    """:func:`pack_series` of a growing list, converting only the values appended since the last
    :meth:`pack`: a float64 or int64 NumPy buffer grown by doubling, returned as a tensor view of its first
    ``n`` values (values below ``n`` are never written again, so an earlier result stays what it
    was). The first value that would make :func:`pack_series` return a list (a mixed type, NaN,
    an int past int64) turns the column into a list for good, as it would."""

    def __init__(self):
        self.values = None   # the list last packed (identity: a replaced list is packed anew)
        self.n = 0           # values converted so far
        self.buffer = None   # float64 / int64 tensor, or None (empty, or a list column)
        self.kind = None     # float or int once packed; "list" once a value fits no tensor

    def pack(self, values: list):
        if values is not self.values or len(values) < self.n:
            self.values, self.n, self.buffer, self.kind = values, 0, None, None
        if self.kind == "list" or not values:
            return list(values)
        new = values[self.n:]
        if self.kind is None:
            self.kind = type(new[0])
        if not _fits(new, self.kind):
            self.kind, self.buffer = "list", None
            return list(values)
        if new:
            end = self.n + len(new)
            if self.buffer is None or end > len(self.buffer):  # (NumPy: a value written in ~0.1 µs)
                grown = np.empty(max(16, 2 * end), dtype=np.float64 if self.kind is float else np.int64)
                if self.n:
                    grown[:self.n] = self.buffer[:self.n]
                self.buffer = grown
            self.buffer[self.n:end] = new
            self.n = end
        return torch.from_numpy(self.buffer[:self.n])


def _fits(new: list, kind) -> bool:
    """Whether ``new`` may join a column of ``kind`` (float: finite Python floats; int: int64 ints)."""
    if kind is float:
        return all(type(v) is float and math.isfinite(v) for v in new)
    if kind is int:
        return all(type(v) is int and -2 ** 63 <= v < 2 ** 63 for v in new)
    return False
