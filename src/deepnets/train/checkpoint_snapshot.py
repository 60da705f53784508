"""A checkpoint's content in two halves: a snapshot taken on the training thread, then the file.

:func:`snapshot` gathers everything a checkpoint holds (weights, name-keyed optimizer state, every
RNG state, the loop's state), checks it is plain data, and copies every tensor: the tensors of
each dtype joined by one C++ call into one new tensor, laid out as they lie in the checkpoint
file's data section (:class:`~deepnets.train.checkpoint_format.Packed`). That is cheaper on a
small network than copying into buffers kept between saves (one ``view`` and ``copy_`` a tensor,
about 2 µs each: 50 µs for the digits job's 24 tensors, against 10 µs joined), and the new
tensors cost no more than a reused buffer once they are of any size. Nothing in a snapshot is
shared with the live run, so training may go on while :meth:`Snapshot.encode` builds the header
and signs it on another thread; the file is the one a save made in one go from the same state.
"""

from __future__ import annotations

import dataclasses
import json

import torch

from deepnets._version import __version__
from deepnets.errors import CheckpointError
from deepnets.train.checkpoint_format import (DIGEST_AT, FORMAT, FORMAT_VERSION, Packed, digest, flatten,
                                              header_bytes, place)
from deepnets.train.rng import get_rng_state
from deepnets.train.state_dict import optimizer_state_by_name, strip_prefixes

_VERSIONS = {"library_version": str(__version__), "torch_version": str(torch.__version__)}


@dataclasses.dataclass
class Snapshot:
    """What one save writes, detached from the run: the tensors copied (``packed``), the model's
    ``weights`` keys, the rest of the state as JSON-able ``tree``; ``step`` and ``epoch`` for the
    header."""

    packed: Packed
    weights: list
    tree: dict
    step: int | None
    epoch: int | None
    cost: float = 0.0  # CPU seconds the copy took on the training thread (set by a Checkpointer)

    def encode(self, sequence: int) -> memoryview:
        """The checkpoint file for save number ``sequence``, whole, in one buffer: the header and
        the tensors joined by one ``torch.cat`` and hashed in one pass (both let other threads run),
        then the digest written in. One buffer, so that a writer thread makes few calls that
        must take Python's lock back (each a chance for the training thread to wait)."""
        names = [f"model/{k}" for k in self.weights] + [f"s{i}" for i in range(len(self.packed.kinds) -
                                                                                len(self.weights))]
        entries, raw = self.packed.lay_out(names)
        meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "sequence": str(int(sequence)),
                "step": "" if self.step is None else str(int(self.step)),
                "epoch": "" if self.epoch is None else str(int(self.epoch)),
                "weights": json.dumps(self.weights, separators=(",", ":")),
                "state": json.dumps(self.tree, separators=(",", ":"))}
        if raw:
            meta["raw"] = json.dumps(raw, separators=(",", ":"))
        header = torch.frombuffer(bytearray(header_bytes(entries, meta)), dtype=torch.uint8)
        whole = memoryview(torch.cat([header, *self.packed.byte_parts()]).numpy())
        whole[DIGEST_AT:DIGEST_AT + 64] = digest((whole,))
        return whole


def snapshot(*, model: torch.nn.Module, optimizer=None, scheduler=None, step=None, epoch=None,
             position=None, config=None, extra=None, rng: bool = True) -> Snapshot:
    """Copy and check everything a checkpoint holds (on the training thread; nothing is written).

    Raises:
        CheckpointError: a tensor is non-finite (named) or a value is not plain data (named).
    """
    return SnapshotTaker()(model=model, optimizer=optimizer, scheduler=scheduler, step=step, epoch=epoch,
                           position=position, config=config, extra=extra, rng=rng)


class SnapshotTaker:
    """:func:`snapshot` for a run that saves again and again (one taker a run): the model's keys
    and the optimizer's flattened state (its tree and the list of its tensors) are resolved once
    and reused while a cheap signature holds: the model's state entries by name and tensor
    identity, each parameter group's parameters (by identity) and settings (by value), each
    parameter's optimizer state by key and tensor identity. Anything else, or an optimizer or
    model whose ``state_dict`` torch does not define alone (overridden, hooked), is resolved
    anew at every save, as :func:`snapshot` does; the file is the same either way."""

    def __init__(self):
        self._weights: tuple | None = None    # (signature, bare names)
        self._optimizer: tuple | None = None  # (signature, flattened tree, [(tensor, where)])

    def __call__(self, *, model, optimizer=None, scheduler=None, step=None, epoch=None, position=None,
                 config=None, extra=None, rng: bool = True) -> Snapshot:
        """As :func:`snapshot`."""
        sd = model.state_dict(keep_vars=True)
        tensors = list(sd.values())
        wsig = (tuple(sd), tuple(map(id, tensors)))
        if self._weights is None or self._weights[0] != wsig:
            for key, t in sd.items():  # (only when the entries changed: a tensor's type cannot change in place)
                if not isinstance(t, torch.Tensor):
                    raise CheckpointError(f"model state entry {key!r} is a {type(t).__name__}, expected a tensor")
            self._weights = (wsig, list(strip_prefixes(sd)))  # bare names: a wrapped model loads into a bare one
        names = self._weights[1]
        if dataclasses.is_dataclass(config) and not isinstance(config, type):
            config = dataclasses.asdict(config)
        found: list = []
        tree = {"format": FORMAT, "format_version": FORMAT_VERSION, **_VERSIONS, "step": step, "epoch": epoch,
                "position": position}
        if optimizer is None:
            tree["optimizer"] = None
        else:
            tree["optimizer"] = self._optimizer_tree(optimizer, model, wsig, found)
        state = {"optimizer_class": None if optimizer is None else type(optimizer).__name__,
                 "scheduler": None if scheduler is None else scheduler.state_dict(),
                 "rng": get_rng_state() if rng else None,
                 "config": None if config is None else dict(config),
                 "extra": dict(extra or {})}
        for key, value in state.items():
            tree[key] = flatten(value, key, found)
        tensors += [t for t, _ in found]
        with torch.no_grad():
            packed = Packed(tensors, lambda: [f"model[{k!r}]" for k in names] + [place(w) for _, w in found])
        return Snapshot(packed, names, tree, step, epoch)

    def _optimizer_tree(self, optimizer, model, wsig, found: list):
        """The optimizer's flattened state (its tensors appended to ``found``), from the cache when
        its signature holds."""
        sig = _optimizer_signature(optimizer, wsig)
        if sig is None or self._optimizer is None or self._optimizer[0] != sig:
            mine: list = []
            tree = flatten(optimizer_state_by_name(optimizer, model), "optimizer", mine)
            self._optimizer = None if sig is None else (sig, tree, mine)
        else:
            tree, mine = self._optimizer[1], self._optimizer[2]
        assert not found  # the optimizer's tensors come first: their numbers in the tree hold
        found += mine
        return tree


_ATOMS = (str, int, float, bool, type(None))


def _optimizer_signature(optimizer, wsig):
    """What the optimizer's flattened state depends on besides its tensors' values, or None when it
    cannot be told cheaply (then it is resolved at every save)."""
    cls = type(optimizer)
    if (getattr(cls, "state_dict", None) is not torch.optim.Optimizer.state_dict
            or getattr(optimizer, "_optimizer_state_dict_pre_hooks", None)
            or getattr(optimizer, "_optimizer_state_dict_post_hooks", None)):
        return None
    groups = []
    for g in optimizer.param_groups:
        settings = []
        for k, v in g.items():
            if k == "params":
                continue
            if type(v) is tuple and all(type(x) in _ATOMS for x in v) or type(v) in _ATOMS:
                settings.append((k, repr(v)))  # (repr: -0.0 and 0.0, 1 and True differ in the file)
            else:  # a tensor learning rate, a list, ...: not compared cheaply
                return None
        groups.append((tuple(map(id, g["params"])), tuple(settings)))
    state = []
    for p, st in optimizer.state.items():
        if type(st) is not dict:
            return None
        entries = []
        for k, v in st.items():
            if type(v) is torch.Tensor:
                entries.append((k, id(v)))
            elif type(v) in _ATOMS:
                entries.append((k, repr(v)))
            else:
                return None
        state.append((id(p), tuple(entries)))
    return wsig, tuple(groups), tuple(state)
