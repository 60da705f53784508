"""A run that fails after its folder was made: what the folder holds then, in words, and a rescue
copy of a finished run whose own folder cannot take its files (a full disk).

Every message a failed run gives ends with :func:`holdings`, so it is true about what was saved:
which files are there, how many epochs ``metrics.jsonl`` holds, and the checkpoint a
``deepnets train --resume RUN`` would continue from (or that there is none).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..atomic import TEMP_PREFIX, FileWriteError
from ..errors import CheckpointError, DeepnetsError
from ..train.checkpoint import SUFFIX, checkpoint_info

#: the files a run folder can hold, in the order a message lists them
_FILES = ("config.toml", "data.json", "metrics.jsonl", "weights.safetensors", "summary.json")


def _epochs_logged(path: str) -> int:
    """Lines of ``metrics.jsonl`` (one per epoch), counted in blocks (never the whole file at once)."""
    try:
        with open(path, "rb") as fh:
            return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 16), b""))
    except OSError:
        return 0


def holdings(path: str) -> str:
    """What the run folder ``path`` holds, in words, for the end of an error message."""
    parts = []
    for name in _FILES:
        f = os.path.join(path, name)
        if os.path.isfile(f):
            n = _epochs_logged(f) if name == "metrics.jsonl" else None
            parts.append(name if n is None else f"{name} ({n} epoch{'' if n == 1 else 's'})")
    held = ", ".join(parts) if parts else "no files"
    newest = _newest_checkpoint(os.path.join(path, "checkpoints"))
    if newest is None:
        return f"{path} holds {held} and no checkpoint: the run cannot be resumed"
    folder, info = newest
    return (f"{path} holds {held} and checkpoints up to {folder} (step {info.step}): "
            f"'deepnets train --resume {path}' continues from there")


def _newest_checkpoint(folder: str):
    """``(path, info)`` of the newest checkpoint with a readable header (or manifest), or None;
    only reads (a CheckpointManager would also clear temp files, which only the lock holder may do)."""
    best = None
    for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        path = Path(folder, entry)
        if entry.startswith(TEMP_PREFIX) or not (entry.endswith(SUFFIX) or path.is_dir()):
            continue
        try:
            info = checkpoint_info(path)
        except CheckpointError:
            continue
        if info is not None and (best is None or info.sequence > best[1].sequence):
            best = (str(path), info)
    return best


def rescue(path: str, write_files) -> str | None:
    """Write a finished run that its folder ``path`` could not take into a new folder under the
    system's temp folder with ``write_files(folder)`` (config, data record and metrics copied
    over); its name, or ``None`` when that failed too (nothing is left of the attempt)."""
    try:
        folder = tempfile.mkdtemp(prefix=f"deepnets-rescue-{os.path.basename(os.path.normpath(path))}-")
    except OSError:
        return None
    try:
        for name in ("config.toml", "data.json", "metrics.jsonl"):
            if os.path.isfile(os.path.join(path, name)):
                shutil.copyfile(os.path.join(path, name), os.path.join(folder, name))
        write_files(folder)
    except (OSError, DeepnetsError):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return folder


def unwritten(err: FileWriteError, path: str, summary: dict, write_files, result) -> FileWriteError:
    """The error of a finished run whose files could not all be written into ``path``, made true
    about what is kept: only plots missing; or the whole run rescued into a temp folder by
    ``write_files(folder)``; or, when that fails too, that the trained model is lost. The
    returned error carries ``result`` (the :class:`~deepnets.experiment.folder.RunResult`, whose
    model is still in memory for a caller from Python)."""
    try:
        with open(os.path.join(path, "summary.json"), encoding="utf-8") as fh:
            complete = json.load(fh).get("weights_sha256") == summary.get("weights_sha256")
    except (OSError, ValueError):
        complete = False
    if complete:
        note = f"{path} holds the weights and summary.json: the run is complete but for its plots"
    else:
        where = rescue(path, write_files)
        note = (f"the finished run was written to {where} instead (a whole run folder: 'deepnets evaluate "
                f"{where}' reads it; move it where there is space)" if where else
                f"no copy could be written to the temp folder either: the trained weights are lost; "
                f"{holdings(path)}")
    out = err.amended(note)
    out.result = result
    return out


__all__ = ["holdings", "rescue", "unwritten"]
