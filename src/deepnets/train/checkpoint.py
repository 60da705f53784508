"""Checkpoints that survive kill -9, full disks and bit rot: one verified file per save.

A checkpoint is one file ``RUN/checkpoints/NAME.safetensors`` (format 2,
:mod:`~deepnets.train.checkpoint_format`): the model's weights, the optimizer state keyed by
parameter *name*, the LR-scheduler state, epoch, step, position inside the epoch, every RNG
state, the resolved config, ``extra`` and the library, torch and format versions, with one
SHA-256 over the whole file in its header.

A save writes the file under a temp name in the same folder, fsyncs it once, renames it into
place and fsyncs the folder once: a reader, or a run killed at any instruction, sees the old
checkpoint or the new one, never neither. Loading checks the size and the checksum before any
byte is deserialised, so a truncated or bit-flipped file gives a
:class:`~deepnets.errors.CheckpointError` that names it. Folders of format 1 (three files, written
before issue 19; :mod:`~deepnets.train.checkpoint_v1`) still load.
"""

from __future__ import annotations

import errno
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from deepnets.atomic import (TEMP_PREFIX, _remove_quietly, free_bytes, fsync_dir, remove_stale_temps,
                             temp_name, write_error, write_file_durably)
from deepnets.errors import CheckpointError
from deepnets.train.checkpoint_format import FORMAT, FORMAT_VERSION, SUFFIX, decode, read_header, verify
from deepnets.train.checkpoint_snapshot import Snapshot, snapshot
from deepnets.train.checkpoint_v1 import MANIFEST, STATE, WEIGHTS, load_folder, read_manifest, read_verified
from deepnets.train.rng import set_rng_state
from deepnets.train.state_dict import plan_model_load, plan_optimizer_load

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")


@dataclass(frozen=True)
class CheckpointInfo:
    """Where a checkpoint lies and what its manifest says (``sequence`` orders saves)."""

    name: str
    path: Path
    sequence: int
    step: int | None
    epoch: int | None


# --------------------------------------------------------------------------- reading one checkpoint


def load_checkpoint(path: str | os.PathLike, *, map_location="cpu") -> dict:
    """Verify and read one checkpoint onto device ``map_location`` (a str or torch.device): a
    ``.safetensors`` file (format 2), or a folder of format 1 (written before issue 19).

    Returns:
        ``{"model": {name: tensor}, "optimizer": name-keyed dict | None, "scheduler", "step",
        "epoch", "position", "rng", "config", "extra", "library_version", "torch_version",
        "format_version", "name", "path", "sequence"}``.

    Raises:
        CheckpointError: missing, truncated, corrupt, of a newer format, or not plain data (the
            file named).
    """
    path = Path(path)
    if path.is_dir():
        ckpt = load_folder(path, map_location=map_location)
        return {**ckpt, "name": path.name, "path": path}
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing; no such checkpoint") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc})") from exc
    ckpt = decode(raw, path, map_location=map_location)
    return {**ckpt, "name": path.name.removesuffix(SUFFIX), "path": path}


def verify_checkpoint(path: Path) -> None:
    """Check a checkpoint is whole and unaltered (every checksum) without building it.

    Raises:
        CheckpointError: as :func:`load_checkpoint`.
    """
    if path.is_dir():
        read_verified(path, read_manifest(path))
        return
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc})") from exc
    verify(raw, path)


def checkpoint_info(path: Path) -> CheckpointInfo | None:
    """What a checkpoint's header (format 2) or manifest (format 1) says, or None when unreadable."""
    if path.name.endswith(SUFFIX):
        head = read_header(path)
        return None if head is None else CheckpointInfo(path.name.removesuffix(SUFFIX), path, **head)
    m = read_manifest(path)
    return CheckpointInfo(path.name, path, int(m["sequence"]), m.get("step"), m.get("epoch"))


def restore(ckpt: dict, *, model: torch.nn.Module, optimizer=None, scheduler=None,
            rng: bool = True) -> None:
    """Put a loaded checkpoint back: weights, optimizer (by name), scheduler and RNG states.

    Everything is checked before anything changes, so a checkpoint that does not fit leaves the
    model and optimizer untouched.

    Raises:
        CheckpointError: listing missing, unexpected and mis-shaped keys, or a missing part.
    """
    source = str(ckpt.get("path", "checkpoint"))
    weights = plan_model_load(model, ckpt["model"], source=source)
    if optimizer is not None and ckpt.get("optimizer") is None:
        raise CheckpointError(f"{source}: an optimizer was given but the checkpoint holds none")
    if scheduler is not None and ckpt.get("scheduler") is None:
        raise CheckpointError(f"{source}: a scheduler was given but the checkpoint holds none")
    # the optimizer is matched against the model's names, which do not change when loading weights
    opt_state = None if optimizer is None else plan_optimizer_load(optimizer, model, ckpt["optimizer"],
                                                                   source=source)
    model.load_state_dict(weights, strict=True)
    if optimizer is not None:
        optimizer.load_state_dict(opt_state)
    if scheduler is not None:
        scheduler.load_state_dict(ckpt["scheduler"])
    if rng and ckpt.get("rng") is not None:
        set_rng_state(ckpt["rng"])


# --------------------------------------------------------------------------- the manager


#: a checkpoint folder (its real path) -> the writes every manager of this process made there
_WRITES: dict[str, int] = {}


class CheckpointManager:
    """Save, list, verify and prune the checkpoints of one run.

    Args:
        run_dir: the run's folder; checkpoints go to ``run_dir/checkpoints/``.
        keep: how many of the newest checkpoints to keep (>= 1; keep 2 or more so that a
            corrupted newest one has a fallback).

    Creating a manager removes temp files a killed writer left behind: only one process may
    write a run's checkpoints (rank 0 under torchrun). A manager lists the folder at its first
    write, and again only when another manager of this process has written there since its last
    write (or a write failed); otherwise it knows what is there from what it wrote and pruned.
    """

    def __init__(self, run_dir: str | os.PathLike, *, keep: int = 3):
        if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
            raise CheckpointError(f"keep: expected an integer >= 1, got {keep!r}")
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / "checkpoints"
        self.keep = keep
        self.removed_temps = remove_stale_temps(self.dir)
        self._known: dict[str, CheckpointInfo] | None = None  # entry -> info: what write() knows is there
        self._folder = os.path.realpath(self.dir)  # (the key of _WRITES)
        self._writes_seen = -1  # _WRITES[folder] after this manager's last write
        self._made = False  # the folder was made (or found) by this manager's first write

    def _entries(self) -> list[str]:
        try:
            names = os.listdir(self.dir)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [n for n in names if not n.startswith(TEMP_PREFIX)]

    def _scan(self) -> dict[str, CheckpointInfo]:
        """Every checkpoint with a readable header or manifest, by its entry in the folder."""
        found = {}
        for entry in self._entries():
            path = self.dir / entry
            if not (entry.endswith(SUFFIX) or path.is_dir()):
                continue
            try:
                info = checkpoint_info(path)
            except CheckpointError as exc:
                log.warning("ignoring checkpoint %s: %s", path, exc)
                continue
            if info is None:
                log.warning("ignoring checkpoint %s: its header does not parse", path)
                continue
            found[entry] = info
        return found

    def list(self) -> list[CheckpointInfo]:
        """Checkpoints with a readable header (or manifest), oldest first (by save sequence); of
        two with one name (a folder of format 1 and a newer file), the newer."""
        newest: dict[str, CheckpointInfo] = {}
        for info in sorted(self._scan().values(), key=lambda i: i.sequence):
            newest[info.name] = info
        return sorted(newest.values(), key=lambda i: i.sequence)

    def latest_good(self) -> CheckpointInfo | None:
        """The newest checkpoint whose every checksum verifies; ``None`` if the run has none.

        Corrupt or incomplete ones are skipped with a warning in the log.

        Raises:
            CheckpointError: checkpoints exist but none verifies (each problem listed).
        """
        problems = []
        for info in reversed(self.list()):
            try:
                verify_checkpoint(info.path)
                return info
            except CheckpointError as exc:
                log.warning("skipping checkpoint %s: %s", info.path, exc)
                problems.append(str(exc))
        return self._none_or_raise("verifies", problems)

    def _none_or_raise(self, what: str, problems: list) -> None:
        entries = [e for e in self._entries() if e.endswith(SUFFIX) or (self.dir / e).is_dir()]
        if entries:
            raise CheckpointError(f"no loadable checkpoint in {self.dir}: {len(entries)} checkpoints, "
                                  f"none {what}: " + " | ".join(problems or ["no readable headers"]))
        return None

    def path_of(self, name: str | int) -> Path:
        """Where checkpoint ``name`` lies: its file, or its folder when only one of format 1 exists."""
        name = self._check_name(name)
        file = self.dir / (name + SUFFIX)
        return self.dir / name if not file.exists() and (self.dir / name).is_dir() else file

    def load(self, name: str | int | None = None, *, map_location="cpu") -> dict:
        """Load checkpoint ``name``, or the newest good one when ``name`` is None.

        Raises:
            CheckpointError: ``name`` is corrupt, or (``name`` None) no checkpoint exists.
        """
        if name is None:
            ckpt = self.load_latest_good(map_location=map_location)
            if ckpt is None:
                raise CheckpointError(f"no checkpoint in {self.dir}")
            return ckpt
        return load_checkpoint(self.path_of(name), map_location=map_location)

    def load_latest_good(self, *, map_location="cpu") -> dict | None:
        """The newest checkpoint that verifies *and* loads, or ``None`` if the run has none.

        A checkpoint whose checksums hold but whose content is refused on loading (a header that
        does not describe a deepnets state, a format-1 ``state.pt`` that would run code) is
        skipped with a warning, like a corrupt one, in favour of the one before it.

        Raises:
            CheckpointError: checkpoints exist but none loads (each problem listed).
        """
        problems = []
        for info in reversed(self.list()):
            try:
                return load_checkpoint(info.path, map_location=map_location)
            except CheckpointError as exc:
                log.warning("skipping checkpoint %s: %s", info.path, exc)
                problems.append(str(exc))
        return self._none_or_raise("loads", problems)

    @staticmethod
    def _check_name(name) -> str:
        name = f"step-{name:09d}" if isinstance(name, int) and not isinstance(name, bool) else name
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith(SUFFIX):
            raise CheckpointError(f"checkpoint name: expected letters, digits, '_', '-', '.' (not first, "
                                  f"not ending in {SUFFIX}) up to 128 characters, got {name!r}")
        return name

    def save(self, step_name: str | int, *, model: torch.nn.Module, optimizer=None, scheduler=None,
             step: int | None = None, epoch: int | None = None, position: int | None = None,
             config=None, extra: dict | None = None, rng: bool = True) -> Path:
        """Write a checkpoint atomically, then prune to the newest ``keep``; return its file.

        Args:
            step_name: the checkpoint's name; an int ``n`` becomes ``step-00000000n``; the file is
                ``NAME.safetensors``. Saving a name that exists replaces it.
            model, optimizer, scheduler: saved by ``state_dict()`` (optimizer keyed by names).
            step, epoch, position: the global step, the epoch and the batch index inside it.
            config: the resolved config (a dict or a dataclass) of plain values.
            extra: more plain data (tensors, numbers, strings, lists, dicts).
            rng: store every global RNG state (see :mod:`deepnets.train.rng`).

        Raises:
            CheckpointError: a tensor is non-finite or a value is not plain data (nothing written).
            CheckpointWriteError: disk full or folder not writable; says how many bytes the save
                needed; earlier checkpoints are untouched.
        """
        name = self._check_name(step_name)
        snap = snapshot(model=model, optimizer=optimizer, scheduler=scheduler, step=step, epoch=epoch,
                        position=position, config=config, extra=extra, rng=rng)
        return self.write(name, snap)

    def _infos(self) -> list[CheckpointInfo]:
        """What :meth:`_scan` finds, oldest first: from what this manager wrote and pruned while no
        other manager of this process wrote to the folder since (no listing); else listed (one
        listdir) and scanned when the folder holds other entries than those."""
        if self._known is None:  # the first save, or one after a failed write
            self._known = self._scan()
        elif _WRITES.get(self._folder, 0) != self._writes_seen and set(self._known) != set(self._entries()):
            self._known = self._scan()  # another manager wrote there
        return sorted(self._known.values(), key=lambda i: i.sequence)

    def write(self, step_name: str | int, snap: Snapshot) -> Path:
        """Write a :func:`~deepnets.train.checkpoint_snapshot.snapshot` as one file, atomically, then
        prune; return the file. ``snap`` is not shared with the run, so this may run on another
        thread (one at a time).

        The file is written under a temp name, fsynced once, renamed over ``NAME.safetensors`` and
        the folder fsynced once: until the rename the previous file of that name (and every older
        checkpoint) is whole; after it, the new one.

        Raises:
            CheckpointWriteError: as :meth:`save`.
        """
        name = self._check_name(step_name)
        sequence = 1 + max((i.sequence for i in self._infos()), default=0)
        blob = snap.encode(sequence)
        needed = len(blob)
        final = self.dir / (name + SUFFIX)
        tmp = self.dir / temp_name(final.name)
        try:
            if not self._made:
                self.dir.mkdir(parents=True, exist_ok=True)
                self._made = True
            free = free_bytes(self.dir)
            if free is not None and free < needed:
                raise OSError(errno.ENOSPC, "not enough free space (checked before writing)")
            write_file_durably(tmp, blob)
            os.rename(tmp, final)  # atomic: the old file of this name, or the new one
        except OSError as exc:
            _remove_quietly(tmp)
            self._known, self._made = None, False
            earlier = [i.name for i in self.list()]
            kept = (f"the previous checkpoints are untouched (newest: {earlier[-1]})" if earlier
                    else "the run has no earlier checkpoint")
            raise write_error(exc, final, needed, kept=kept) from exc
        try:
            fsync_dir(self.dir)
        except OSError as exc:  # the new file is in place, whole; only its name may not be on disk yet
            self._known = None
            raise write_error(exc, final, needed, kept="the new checkpoint is in place but the folder could not "
                              "be synced: it may not survive a crash of the machine") from exc
        self._known[final.name] = CheckpointInfo(name, final, sequence, snap.step, snap.epoch)
        self._prune()
        self._writes_seen = _WRITES[self._folder] = _WRITES.get(self._folder, 0) + 1
        log.info("saved checkpoint %s (%d bytes)", final, needed)
        return final

    def _prune(self) -> None:
        """Delete all but the newest ``keep`` checkpoints, and a format-1 folder a newer file of the
        same name replaced (a file is unlinked; a folder renamed to a temp name, then removed). Works
        from what :meth:`write` knows is there (listed at its start), without listing again."""
        infos = sorted(self._known.values(), key=lambda i: i.sequence)
        newest = {i.name: i for i in infos}
        kept = {id(i) for i in sorted(newest.values(), key=lambda i: i.sequence)[-self.keep:]}
        for info in infos:
            if id(info) in kept:
                continue
            try:
                if info.path.name.endswith(SUFFIX):
                    os.unlink(info.path)
                else:  # a folder of format 1
                    trash = self.dir / temp_name(info.path.name)
                    os.rename(info.path, trash)
                    _remove_quietly(trash)
            except FileNotFoundError:  # gone already (another process pruned it)
                pass
            except OSError as exc:
                log.warning("could not remove old checkpoint %s: %s", info.path, exc)
                continue
            self._known.pop(info.path.name, None)


__all__ = ["CheckpointInfo", "CheckpointManager", "load_checkpoint", "verify_checkpoint", "checkpoint_info",
           "restore", "FORMAT", "FORMAT_VERSION", "SUFFIX", "MANIFEST", "STATE", "WEIGHTS"]
