"""Checkpoints that survive kill -9, full disks and bit rot: one verified folder per save.

A checkpoint is a folder ``RUN/checkpoints/NAME/`` with three files:

- ``model.safetensors``: the model's ``state_dict()`` (tensors only, no code);
- ``state.pt``: everything else as plain data that ``torch.load(weights_only=True)`` reads
  without an allow-list: optimizer state keyed by parameter *name*, LR-scheduler state, epoch,
  step, position inside the epoch, every RNG state, the resolved config, ``extra``, and the
  library, torch and format versions;
- ``manifest.json``, written last: size and SHA-256 of each file, the save's sequence number,
  and a SHA-256 of the manifest itself.

The folder is built under a temp name in the same parent (each file fsynced, then the folder),
renamed into place, and the parent fsynced: a reader sees a whole checkpoint or none. Loading
checks every size and checksum before any byte is deserialised, so a truncated or bit-flipped
file gives a :class:`~deepnets.errors.CheckpointError` that names it, never a PyTorch stream error.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import load as safetensors_load
import torch

from deepnets.data.safe_files import check_safetensors, check_torch_file, loads_json
from deepnets.errors import CheckpointError, DataError
from deepnets.atomic import (TEMP_PREFIX, CheckpointWriteError, _remove_quietly, free_bytes,
                                   fsync_dir, remove_stale_temps, temp_name, write_error,
                                   write_file_durably)
from deepnets.train.checkpoint_snapshot import (FORMAT, FORMAT_VERSION, MANIFEST, STATE, WEIGHTS, Snapshot,
                                                encode, snapshot)
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


# --------------------------------------------------------------------------- the format: serialise, manifest


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest_bytes(body: dict) -> bytes:
    """The manifest with its own checksum over the canonical JSON of everything else."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return json.dumps({**body, "manifest_sha256": _sha256(canonical)}, indent=1,
                      sort_keys=True).encode()


def serialize(*, model: torch.nn.Module, optimizer=None, scheduler=None, step=None, epoch=None,
              position=None, config=None, extra=None, rng: bool = True) -> dict[str, bytes]:
    """The two payload files of a checkpoint as bytes, after checking them (nothing is written):
    :func:`~deepnets.train.checkpoint_snapshot.encode` of a
    :func:`~deepnets.train.checkpoint_snapshot.snapshot`.

    Raises:
        CheckpointError: a tensor is non-finite (named) or a value is not plain data (named).
    """
    return encode(snapshot(model=model, optimizer=optimizer, scheduler=scheduler, step=step, epoch=epoch,
                           position=position, config=config, extra=extra, rng=rng))


# --------------------------------------------------------------------------- checks on load


def read_manifest(folder: Path) -> dict:
    """Parse and self-check ``folder/manifest.json``.

    Raises:
        CheckpointError: missing ("incomplete"), unparsable ("truncated or corrupt"), its own
            checksum differs ("checksum mismatch"), or a format this version cannot read.
    """
    path = folder / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing; the checkpoint is incomplete") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc})") from exc
    try:
        body = loads_json(raw, path)
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
    except DataError as exc:
        raise CheckpointError(str(exc)) from None
    except ValueError as exc:
        raise CheckpointError(f"{path}: truncated or corrupt: expected a JSON object, "
                              f"{len(raw)} bytes do not parse ({exc})") from None
    claimed = body.pop("manifest_sha256", None)
    actual = _sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    if claimed != actual:
        raise CheckpointError(f"{path}: checksum mismatch: manifest records {claimed}, "
                              f"its content hashes to {actual}")
    if body.get("format") != FORMAT or not isinstance(body.get("format_version"), int):
        raise CheckpointError(f"{path}: expected format {FORMAT!r}, found {body.get('format')!r}")
    if body["format_version"] > FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {body['format_version']} is newer than "
                              f"this deepnets reads ({FORMAT_VERSION}); upgrade deepnets")
    return body


def read_verified(folder: Path, manifest: dict) -> dict[str, bytes]:
    """Read each file the manifest lists and check its size and SHA-256.

    Raises:
        CheckpointError: naming the file and "truncated" (shorter than recorded) or
            "checksum mismatch" (other size or content).
    """
    out = {}
    for name in (WEIGHTS, STATE):
        rec = manifest.get("files", {}).get(name)
        path = folder / name
        if not isinstance(rec, dict):
            raise CheckpointError(f"{folder / MANIFEST}: expected an entry for {name}, found none")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CheckpointError(f"{path}: missing; the manifest lists it") from None
        except OSError as exc:
            raise CheckpointError(f"{path}: cannot be read ({exc})") from exc
        if len(data) < rec["bytes"]:
            raise CheckpointError(f"{path}: truncated: {len(data)} bytes, the manifest "
                                  f"records {rec['bytes']}")
        if len(data) != rec["bytes"] or _sha256(data) != rec["sha256"]:
            raise CheckpointError(f"{path}: checksum mismatch: expected {rec['bytes']} bytes with "
                                  f"SHA-256 {rec['sha256']}, found {len(data)} bytes with "
                                  f"{_sha256(data)}")
        out[name] = data
    return out


def load_checkpoint(folder: str | os.PathLike, *, map_location="cpu") -> dict:
    """Verify and read one checkpoint folder onto device ``map_location`` (a str or torch.device).

    Returns:
        ``{"model": {name: tensor}, "optimizer": name-keyed dict | None, "scheduler", "step",
        "epoch", "position", "rng", "config", "extra", "library_version", "torch_version",
        "format_version", "name", "path", "sequence"}``.

    Raises:
        CheckpointError: the folder is incomplete, truncated, corrupt, or not plain data.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    blobs = read_verified(folder, manifest)
    try:  # the checksums can be forged: sizes and counts checked before anything is built
        check_safetensors(blobs[WEIGHTS], folder / WEIGHTS)
        check_torch_file(blobs[STATE], folder / STATE)
    except DataError as exc:
        raise CheckpointError(str(exc)) from None
    try:
        weights = safetensors_load(blobs[WEIGHTS])  # tensors only, no code
    except Exception as exc:  # checksums passed, so the writer was not deepnets
        raise CheckpointError(f"{folder / WEIGHTS}: not a readable safetensors file ({exc})") from exc
    try:
        state = torch.load(io.BytesIO(blobs[STATE]), map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{folder / STATE}: refused: expected plain data readable with "
                              f"torch.load(weights_only=True), found something else "
                              f"({_first_reason(exc)})") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{folder / STATE}: expected a {FORMAT} state dict")
    if map_location is not None:  # a no-op for "cpu": safetensors loads onto the CPU
        weights = {k: v.to(map_location) for k, v in weights.items()}
    return {**state, "model": weights, "name": folder.name, "path": folder,
            "sequence": manifest["sequence"]}


def _first_reason(exc: Exception) -> str:
    """The informative line of torch's long weights-only refusal (or the whole short message)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in lines:
        if "WeightsUnpickler error" in ln:
            return ln.split("Please use", 1)[0].strip()
    return lines[0] if lines else type(exc).__name__


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


class CheckpointManager:
    """Save, list, verify and prune the checkpoints of one run.

    Args:
        run_dir: the run's folder; checkpoints go to ``run_dir/checkpoints/``.
        keep: how many of the newest checkpoints to keep (>= 1; keep 2 or more so that a
            corrupted newest one has a fallback).

    Creating a manager removes temp folders a killed writer left behind: only one process may
    write a run's checkpoints (rank 0 under torchrun).
    """

    def __init__(self, run_dir: str | os.PathLike, *, keep: int = 3):
        if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
            raise CheckpointError(f"keep: expected an integer >= 1, got {keep!r}")
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / "checkpoints"
        self.keep = keep
        self.removed_temps = remove_stale_temps(self.dir)
        self._known: dict[str, CheckpointInfo] | None = None  # what list() found, kept up to date by write()

    def list(self) -> list[CheckpointInfo]:
        """Checkpoints with a readable manifest, oldest first (by save sequence)."""
        infos = []
        for entry in self.dir.iterdir() if self.dir.is_dir() else []:
            if entry.name.startswith(TEMP_PREFIX) or not entry.is_dir():
                continue
            try:
                m = read_manifest(entry)
            except CheckpointError as exc:
                log.warning("ignoring checkpoint %s: %s", entry, exc)
                continue
            infos.append(CheckpointInfo(entry.name, entry, int(m["sequence"]), m.get("step"),
                                        m.get("epoch")))
        return sorted(infos, key=lambda i: i.sequence)

    def latest_good(self) -> CheckpointInfo | None:
        """The newest checkpoint whose every file verifies; ``None`` if the run has none.

        Corrupt or incomplete ones are skipped with a warning in the log.

        Raises:
            CheckpointError: checkpoints exist but none verifies (each problem listed).
        """
        entries = [e for e in (self.dir.iterdir() if self.dir.is_dir() else [])
                   if e.is_dir() and not e.name.startswith(TEMP_PREFIX)]
        problems = []
        for info in reversed(self.list()):
            try:
                read_verified(info.path, read_manifest(info.path))
                return info
            except CheckpointError as exc:
                log.warning("skipping checkpoint %s: %s", info.path, exc)
                problems.append(str(exc))
        if entries:
            raise CheckpointError(f"no loadable checkpoint in {self.dir}: {len(entries)} folders, "
                                  f"none verifies: " + " | ".join(problems or ["no manifests"]))
        return None

    def load(self, name: str | None = None, *, map_location="cpu") -> dict:
        """Load checkpoint ``name``, or the newest good one when ``name`` is None.

        Raises:
            CheckpointError: ``name`` is corrupt, or (``name`` None) no checkpoint exists.
        """
        if name is None:
            ckpt = self.load_latest_good(map_location=map_location)
            if ckpt is None:
                raise CheckpointError(f"no checkpoint in {self.dir}")
            return ckpt
        return load_checkpoint(self.dir / self._check_name(name), map_location=map_location)

    def load_latest_good(self, *, map_location="cpu") -> dict | None:
        """The newest checkpoint that verifies *and* loads, or ``None`` if the run has none.

        A checkpoint whose checksums hold but whose content is refused on loading (a ``state.pt``
        that would run code, a weights file safetensors cannot parse) is skipped with a warning,
        like a corrupt one, in favour of the one before it.

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
        entries = [e for e in (self.dir.iterdir() if self.dir.is_dir() else [])
                   if e.is_dir() and not e.name.startswith(TEMP_PREFIX)]
        if entries:
            raise CheckpointError(f"no loadable checkpoint in {self.dir}: {len(entries)} folders, "
                                  f"none loads: " + " | ".join(problems or ["no manifests"]))
        return None

    @staticmethod
    def _check_name(name) -> str:
        name = f"step-{name:09d}" if isinstance(name, int) and not isinstance(name, bool) else name
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise CheckpointError(f"checkpoint name: expected letters, digits, '_', '-', '.' "
                                  f"(not first) up to 128 characters, got {name!r}")
        return name

    def save(self, step_name: str | int, *, model: torch.nn.Module, optimizer=None, scheduler=None,
             step: int | None = None, epoch: int | None = None, position: int | None = None,
             config=None, extra: dict | None = None, rng: bool = True) -> Path:
        """Write a checkpoint atomically, then prune to the newest ``keep``; return its folder.

        Args:
            step_name: folder name; an int ``n`` becomes ``step-00000000n``. Saving a name that
                exists replaces it.
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
        """:meth:`list`, from what this manager wrote while the folder holds just those (one listdir)."""
        names = {n for n in (os.listdir(self.dir) if self.dir.is_dir() else []) if not n.startswith(TEMP_PREFIX)}
        if self._known is None or set(self._known) != names:  # first save, or another writer was here
            self._known = {i.name: i for i in self.list()}
        return sorted(self._known.values(), key=lambda i: i.sequence)

    def write(self, step_name: str | int, snap: Snapshot) -> Path:
        """Write a :func:`~deepnets.train.checkpoint_snapshot.snapshot` atomically, then prune; return its
        folder. ``snap`` is not shared with the run, so this may run on another thread (one at a time).

        Raises:
            CheckpointWriteError: as :meth:`save`.
        """
        name = self._check_name(step_name)
        blobs = encode(snap)
        known = self._infos()
        sequence = 1 + max((i.sequence for i in known), default=0)
        manifest = _manifest_bytes({
            "format": FORMAT, "format_version": FORMAT_VERSION, "name": name,
            "sequence": sequence, "step": snap.step, "epoch": snap.epoch,
            "files": {f: {"bytes": len(b), "sha256": _sha256(b)} for f, b in blobs.items()},
        })
        needed = sum(map(len, blobs.values())) + len(manifest)
        final = self.dir / name
        tmp = self.dir / temp_name(name)
        aside = None
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            free = free_bytes(self.dir)
            if free is not None and free < needed:
                raise OSError(errno.ENOSPC, "not enough free space (checked before writing)")
            tmp.mkdir()
            for fname, data in blobs.items():
                write_file_durably(tmp / fname, data)
            write_file_durably(tmp / MANIFEST, manifest)  # last: its presence means "complete"
            fsync_dir(tmp)
            if final.exists():  # same name saved again: move the old one aside, then swap in
                aside = self.dir / temp_name(name)
                os.rename(final, aside)
            try:
                os.rename(tmp, final)
            except OSError:
                if aside is not None:  # put the old one back before reporting
                    os.rename(aside, final)
                raise
            fsync_dir(self.dir)
        except CheckpointWriteError:
            raise
        except OSError as exc:
            _remove_quietly(tmp)
            self._known = None
            earlier = [i.name for i in self.list()]
            kept = (f"the previous checkpoints are untouched (newest: {earlier[-1]})" if earlier
                    else "the run has no earlier checkpoint")
            raise write_error(exc, final, needed, kept=kept) from exc
        if aside is not None:
            _remove_quietly(aside)  # the replaced folder
        self._known[name] = CheckpointInfo(name, final, sequence, snap.step, snap.epoch)
        self._prune()
        log.info("saved checkpoint %s (%d bytes)", final, needed)
        return final

    def _prune(self) -> None:
        """Delete all but the newest ``keep`` checkpoints (renamed to a temp name, then removed)."""
        for info in self._infos()[:-self.keep]:
            trash = self.dir / temp_name(info.name)
            try:
                os.rename(info.path, trash)
            except OSError as exc:
                log.warning("could not remove old checkpoint %s: %s", info.path, exc)
                continue
            self._known.pop(info.name, None)
            _remove_quietly(trash)
