"""One writer per run folder: ``RUN/.lock``, held with ``flock(2)`` for as long as a process trains
or resumes the run.

The lock file holds the writer's pid and host. A second writer (another ``deepnets train --resume
RUN``, a new run in the same folder) is refused with a :class:`RunLockedError` that names the
holder's pid. The kernel drops a ``flock`` when its process dies, even by SIGKILL, so a lock file
left by a killed writer is *stale*: the next writer takes it over (with a warning that names the
dead pid) instead of being locked out for ever. A clean exit removes the file.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import socket

from ..errors import DeepnetsError

log = logging.getLogger(__name__)

#: the lock file inside a run folder
LOCK_NAME = ".lock"


class RunLockedError(DeepnetsError):
    """Another live process holds the run folder's lock (``pid``: that process, if it said)."""

    def __init__(self, message: str, pid: int | None):
        super().__init__(message)
        self.pid = pid


def _holder(fd: int) -> tuple[int | None, str]:
    """``(pid, host)`` written in the lock file (``None, ""`` while its writer has not written yet)."""
    os.lseek(fd, 0, os.SEEK_SET)
    fields = os.read(fd, 4096).decode("utf-8", "replace").split()
    pid = int(fields[0]) if fields and fields[0].isdigit() else None
    return pid, (fields[1] if len(fields) > 1 else "")


class RunLock:
    """The exclusive lock of one run folder; a context manager.

    Args:
        run_dir: the run folder (it must exist).

    Attributes:
        stale_pid: the pid of a dead writer whose lock was taken over (None if there was none).

    Raises (on :meth:`acquire`):
        RunLockedError: another process holds the lock (its pid named).
    """

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = os.fspath(run_dir)
        self.path = os.path.join(self.run_dir, LOCK_NAME)
        self.fd: int | None = None
        self.stale_pid: int | None = None

    def acquire(self) -> "RunLock":
        """Take the lock or raise :class:`RunLockedError`; returns ``self``."""
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise DeepnetsError(f"{self.path}: cannot create the run folder's lock file "
                                    f"({e.strerror or e})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                pid, host = _holder(fd)
                os.close(fd)
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise DeepnetsError(f"{self.path}: cannot lock the run folder ({e.strerror or e})") from None
                who = f"process {pid}" + (f" on {host}" if host else "") if pid else "another process"
                raise RunLockedError(f"{self.run_dir} is in use by {who} (lock file {self.path}): one process "
                                     f"at a time may write a run; wait for it to finish or stop it", pid) from None
            # the file may have been removed by the holder between our open and our flock: retry
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        pid, host = _holder(fd)
        if pid is not None and pid != os.getpid():  # a writer that died without unlocking: its flock is gone
            self.stale_pid = pid
            log.warning("%s: taking over the stale lock of process %d%s, which is no longer running",
                        self.run_dir, pid, f" on {host}" if host else "")
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        self.fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file and drop the lock (removed while still held, so no one locks a
        file that is about to vanish). Releasing twice does nothing."""
        if self.fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as e:  # a lock file left behind is stale, and taken over by the next writer
            log.warning("could not remove %s: %s", self.path, e)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


__all__ = ["RunLock", "RunLockedError", "LOCK_NAME"]
