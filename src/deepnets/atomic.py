"""Crash-safe file writes: temp file in the same folder, fsync, rename, fsync the folder.

A reader that races a writer, or a writer killed with SIGKILL at any instruction, sees either
the old file or the new one, never a mixture: ``rename(2)`` within one file system is atomic, and
the two fsyncs order the data before the name on disk (the data is durable before the rename,
the rename is durable before we report success).

Temp names start with :data:`TEMP_PREFIX`, so a later process can find and remove what a killed
writer left behind (:func:`remove_stale_temps`).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import uuid
from pathlib import Path

from deepnets.errors import CheckpointError, DeepnetsError

log = logging.getLogger(__name__)

#: Prefix of every temporary file or folder this module creates.
TEMP_PREFIX = ".tmp-"

#: errno values that mean "the disk (or the quota) is full".
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
#: errno values that mean "this folder may not be written".
_NO_WRITE = {errno.EACCES, errno.EPERM, errno.EROFS}


class FileWriteError(DeepnetsError, OSError):
    """A file could not be written: the disk is full, the folder is missing or not writable.

    ``needed_bytes`` is what the write needed; ``free_bytes`` what the file system reported free
    (``None`` when it could not be asked). The message names the file and what was kept.
    """

    def __init__(self, message: str, *, needed_bytes: int, free_bytes: int | None, errno_: int | None):
        super().__init__(message)
        self.needed_bytes = needed_bytes
        self.free_bytes = free_bytes
        self.errno = errno_

    def amended(self, note: str) -> "FileWriteError":
        """The same error with ``note`` appended to its message (what the caller knows more)."""
        return type(self)(f"{self}; {note}", needed_bytes=self.needed_bytes, free_bytes=self.free_bytes,
                          errno_=self.errno)


class CheckpointWriteError(FileWriteError, CheckpointError):
    """A checkpoint save failed because the disk is full or the folder cannot be written; the
    previous checkpoints are untouched."""


def temp_name(final_name: str) -> str:
    """A unique temp name for ``final_name`` (same folder, so the rename stays atomic)."""
    return f"{TEMP_PREFIX}{final_name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"


def free_bytes(folder: Path) -> int | None:
    """Bytes free to an unprivileged writer in ``folder``'s file system, or ``None`` if unknown."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _human(n: int) -> str:
    """``n`` bytes as a short human figure ("3.2 MiB")."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def write_error(exc: OSError, path: Path, needed: int, *, what: str = "checkpoint file",
                kept: str = "the previous checkpoints are untouched") -> FileWriteError:
    """Turn an OSError from a write into a :class:`FileWriteError` (a :class:`CheckpointWriteError`
    for a checkpoint) that names the file as ``what``, says what was needed and free, and what was
    ``kept``."""
    free = free_bytes(path.parent)
    free_text = "unknown" if free is None else f"{free} bytes ({_human(free)})"
    if exc.errno in _NO_SPACE:
        why = "no space left on device"
    elif exc.errno in _NO_WRITE or isinstance(exc, PermissionError):
        why = "folder is read-only or not writable"
    elif exc.errno == errno.ENOENT and not path.parent.is_dir():
        why = f"the folder {path.parent} does not exist"
    elif exc.errno == errno.ENOTDIR:
        why = f"{path.parent} is not a folder"
    else:
        why = f"write failed ({exc.strerror or exc})"
    cls = CheckpointWriteError if what.startswith("checkpoint") else FileWriteError
    return cls(f"cannot write {what} {path}: {why}; the save needs {needed} bytes ({_human(needed)}), "
               f"free: {free_text}; {kept}", needed_bytes=needed, free_bytes=free, errno_=exc.errno)


def fsync_dir(folder: Path) -> None:
    """fsync a folder so that renames and creations inside it are durable."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_durably(path: Path, *parts) -> None:
    """Create ``path`` (which must not exist), write all of ``parts`` (bytes-like, one after
    another, not joined: no copy), fsync it once.

    Loops over ``os.write`` because one call may write fewer bytes than asked.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        for data in parts:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike, data: bytes, *, needed: int | None = None, what: str = "file") -> None:
    """Replace ``path`` by ``data`` atomically: temp file, fsync, rename, fsync the folder.

    Args:
        path: the final file name; its folder must exist.
        data: the whole content.
        needed: bytes to report in a disk-full message (default ``len(data)``).
        what: what the file is, for the message ("predictions file", "weights file", ...).

    Raises:
        FileWriteError: the disk is full or the folder is missing or cannot be written; ``path``
            keeps its old content (the message says whether it had one) and no temp file is left.
    """
    path = Path(path)
    tmp = path.with_name(temp_name(path.name))
    try:
        write_file_durably(tmp, data)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        _remove_quietly(tmp)
        kept = f"{path.name} keeps its previous content" if path.exists() else "nothing was written"
        raise write_error(exc, path, len(data) if needed is None else needed, what=what, kept=kept) from exc


def append_line(path: str | os.PathLike, line: str, *, what: str = "file") -> None:
    """Append ``line`` (one line, ``\\n`` added) to ``path``, all of it or none: a failed append is
    cut off again, so no half line is left behind.

    Raises:
        FileWriteError: the disk is full or the folder is missing or cannot be written.
    """
    path = Path(path)
    data = (line + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise write_error(exc, path, len(data), what=what, kept="nothing was written") from exc
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except OSError as exc:
            try:
                os.ftruncate(fd, size)  # no half line
            except OSError:  # pragma: no cover - the truncation itself failed: say so
                raise write_error(exc, path, len(data), what=what,
                                  kept=f"a partial line may be left at its end (byte {size})") from exc
            raise write_error(exc, path, len(data), what=what, kept="its earlier lines are kept") from exc
    finally:
        os.close(fd)


def _remove_quietly(path: Path) -> None:
    """Remove a file or folder if it exists; a failure here only leaves a stale temp behind."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:  # a stale temp is harmless: the next start removes it
        log.warning("could not remove temp %s: %s", path, exc)


def remove_stale_temps(folder: str | os.PathLike) -> list[str]:
    """Remove every temp file or folder a killed writer left in ``folder``; return their names.

    Only call this when no other process writes into ``folder`` (a run has one writer: rank 0).
    """
    folder = Path(folder)
    removed = []
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        if entry.name.startswith(TEMP_PREFIX):
            _remove_quietly(entry)
            removed.append(entry.name)
    if removed:
        log.info("removed %d stale temp entries in %s: %s", len(removed), folder, removed)
    return removed
