"""A checkpoint's content in two halves: a snapshot taken on the training thread, then bytes.

:func:`snapshot` copies everything a checkpoint holds (weights, name-keyed optimizer state, every
RNG state, the loop's state) and checks it is plain data in one walk; nothing in it is shared
with the live run, so training may go on while :func:`encode` turns it into the two payload files
(``model.safetensors`` and ``state.pt``) on another thread. The bytes are those a save made in
one go from the same state.
"""

from __future__ import annotations

import dataclasses
import io

from safetensors.torch import save as safetensors_save
import torch

from deepnets._version import __version__
from deepnets.errors import CheckpointError
from deepnets.train.rng import get_rng_state
from deepnets.train.state_dict import _LEAVES, _MAPPINGS, check_plain_data, optimizer_state_by_name, strip_prefixes

FORMAT = "deepnets-checkpoint"
#: Bump when the layout changes; a reader refuses versions newer than it knows.
FORMAT_VERSION = 1
WEIGHTS, STATE, MANIFEST = "model.safetensors", "state.pt", "manifest.json"


def copy_plain(value, where: str, tensors: list | None = None):
    """``value`` copied (containers rebuilt, tensors cloned) after :func:`check_plain_data`'s checks.

    With ``tensors`` (a list), the copies' finiteness is left to :func:`check_finite` on that list,
    which checks them all at once; the copies and their places are appended to it.

    Raises:
        CheckpointError: a non-finite tensor or a value that is not plain data (named by ``where``).
    """
    kind = type(value)
    if kind in (torch.Tensor, torch.nn.Parameter):
        copy = value.detach().clone()
        if tensors is None:
            check_plain_data(copy, where)
        else:
            tensors.append((copy, where))
        return copy
    if kind in _MAPPINGS:
        out = kind() if kind is not dict else {}
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                raise CheckpointError(f"{where}: expected str or int keys, got {type(k).__name__}")
            out[k] = copy_plain(v, f"{where}[{k!r}]", tensors)
        return out
    if kind in (list, tuple, set):
        return kind(copy_plain(v, f"{where}[{i}]", tensors) for i, v in enumerate(value))
    if kind not in _LEAVES:
        check_plain_data(value, where)  # raises, naming the type
    return value  # immutable leaves (numbers, strings, dtypes, ...)


def check_finite(tensors: list) -> None:
    """Refuse ``(tensor, where)`` pairs holding NaN or inf: one ``isfinite`` over all the floating
    tensors of a dtype and device joined (one sync, not one a tensor); the culprit is then named
    by :func:`check_plain_data` on each.

    Raises:
        CheckpointError: naming the first non-finite tensor.
    """
    groups: dict = {}
    for t, _ in tensors:
        if (t.is_floating_point() or t.is_complex()) and t.numel():
            groups.setdefault((t.dtype, t.device), []).append(t.reshape(-1))
    if all(bool(torch.isfinite(torch.cat(g)).all()) for g in groups.values()):
        return
    for t, where in tensors:
        check_plain_data(t, where)


@dataclasses.dataclass
class Snapshot:
    """What one save writes, detached from the run: ``weights`` (bare name -> CPU tensor) and
    ``state`` (plain data); ``step`` and ``epoch`` for the manifest."""

    weights: dict
    state: dict
    step: int | None
    epoch: int | None


def snapshot(*, model: torch.nn.Module, optimizer=None, scheduler=None, step=None, epoch=None,
             position=None, config=None, extra=None, rng: bool = True) -> Snapshot:
    """Copy and check everything a checkpoint holds (on the training thread; nothing is written).

    Raises:
        CheckpointError: a tensor is non-finite (named) or a value is not plain data (named).
    """
    weights, tensors = {}, []
    # bare names: a checkpoint of a DDP- or compile-wrapped model loads into a bare one
    for key, t in strip_prefixes(model.state_dict()).items():
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(f"model state entry {key!r} is a {type(t).__name__}, "
                                  f"expected a tensor")
        # (own storage, contiguous, CPU): safetensors refuses shared or strided storage
        weights[key] = t.detach().to("cpu", copy=True).contiguous()
        tensors.append((weights[key], f"model[{key!r}]"))
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    state = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "library_version": str(__version__), "torch_version": str(torch.__version__),
        "step": step, "epoch": epoch, "position": position,
        "optimizer": None if optimizer is None else optimizer_state_by_name(optimizer, model),
        "optimizer_class": None if optimizer is None else type(optimizer).__name__,
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "rng": get_rng_state() if rng else None,
        "config": None if config is None else dict(config),
        "extra": dict(extra or {}),
    }
    state = {key: copy_plain(value, key, tensors) for key, value in state.items()}
    check_finite(tensors)
    return Snapshot(weights, state, step, epoch)


def encode(snap: Snapshot) -> dict[str, bytes]:
    """The two payload files of ``snap`` as bytes (safe on any thread: ``snap`` is not shared)."""
    buf = io.BytesIO()
    torch.save(snap.state, buf)
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    return {WEIGHTS: safetensors_save(snap.weights, metadata=meta), STATE: buf.getvalue()}
