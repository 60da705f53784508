"""kill -9 at a chosen point inside a checkpoint save: a byte offset into the save's writes, or
just before one of its file-system operations (mkdir, fsync, rename, the unlink of a pruned one).

:func:`train_killed` forks a child that runs the everything-on run of ``everything.py`` and
SIGKILLs itself inside its ``save_index``-th checkpoint save, at the point given; the parent
waits for the death and returns. Nothing of the parent's own file functions is touched.
"""

from __future__ import annotations

import io
import json
import os
import signal

from faults import everything as ev

#: the file-system operations of a save a kill can come just before (a format-2 save: the folder's
#: mkdir, the file's fsync, the rename, the folder's fsync, then unlinks when it prunes)
OPERATIONS = ("mkdir", "fsync", "rename", "replace", "unlink", "rmdir")


class KillPlan:
    """Die at byte ``offset`` of the armed save's writes, or before its ``op_index``-th operation."""

    def __init__(self, save_index: int, *, offset: int | None = None, op_index: int | None = None):
        self.save_index, self.offset, self.op_index = save_index, offset, op_index
        self.saves = self.written = self.ops = 0
        self.armed = False

    def die(self):
        os.kill(os.getpid(), signal.SIGKILL)

    def install(self):
        from deepnets.train.checkpoint import CheckpointManager

        # every save's writing goes through CheckpointManager.write (Checkpointer calls it after
        # taking its snapshot; CheckpointManager.save too)
        real_save, real_write = CheckpointManager.write, os.write
        plan = self

        def save(manager, *args, **kwargs):
            plan.saves += 1
            plan.armed = plan.saves == plan.save_index
            try:
                return real_save(manager, *args, **kwargs)
            finally:
                plan.armed = False

        def write(fd, data):
            if plan.armed and plan.offset is not None and plan.written + len(data) > plan.offset:
                real_write(fd, bytes(data[:plan.offset - plan.written]))
                plan.die()
            plan.written += len(data) if plan.armed else 0
            return real_write(fd, data)

        def operation(real):
            def op(*args, **kwargs):
                if plan.armed and plan.op_index is not None:
                    plan.ops += 1
                    if plan.ops == plan.op_index:
                        plan.die()
                return real(*args, **kwargs)
            return op

        CheckpointManager.write = save
        os.write = write
        for name in OPERATIONS:
            setattr(os, name, operation(getattr(os, name)))


def save_profile(run_dir, save_index: int) -> tuple[int, int]:
    """``(bytes written, operations)`` of the ``save_index``-th save of an uninterrupted run (in a child)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            plan = KillPlan(save_index, op_index=10 ** 9)  # counts, never dies
            plan.install()
            ev.train(run_dir, progress=io.StringIO())
            os.write(w, json.dumps([plan.written, plan.ops]).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    written, ops = json.loads(data)
    return written, ops


def train_killed(run_dir, plan: KillPlan) -> int:
    """Run the everything-on run in a child that dies as ``plan`` says; return the child's status."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            plan.install()
            ev.train(run_dir, progress=io.StringIO())
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return status
