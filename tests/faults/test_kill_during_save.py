"""kill -9 inside a checkpoint save, at byte offsets of its writes and before each of its
file-system operations (mkdir, the file's fsync, the rename, the folder's fsync, the unlink of
the checkpoint it prunes): the run folder always holds a good checkpoint (the previous one or the
new one, whole), a corrupted one is never loaded, and the run resumed from it ends equal to the
uninterrupted run (weights, optimizer, history, callback states, metrics log). The run is the
everything-on run of ``everything.py``; the save hit is its 8th, the second save of step 15
(epoch end after a step save), which replaces a checkpoint of the same name."""

import io
import logging
import os
import signal

import pytest

from deepnets.train.checkpoint import CheckpointManager
from faults import everything as ev
from faults import kill_points as kp

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
SAVE = 8


@pytest.fixture(autouse=True)
def _quiet(caplog):
    caplog.set_level(logging.ERROR)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    run = tmp_path_factory.mktemp("full")
    return ev.snapshot(*ev.train(run, progress=io.StringIO()), run)


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    return kp.save_profile(tmp_path_factory.mktemp("profile"), SAVE)


def _kill_and_resume(run, full, plan):
    status = kp.train_killed(run, plan)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, "the kill did not happen"
    manager = CheckpointManager(run)  # a restart: removes what the killed writer left
    names = sorted(p.name for p in manager.dir.iterdir())
    assert not [n for n in names if n.startswith(".tmp")]
    for info in manager.list():  # every checkpoint left verifies: none half-written
        manager.load(info.name)
    assert manager.latest_good() is not None
    got = ev.snapshot(*ev.train(run, resume=True, progress=io.StringIO()), run)
    return ev.differences(full, got)


def _points(profile, n_offsets):
    written, ops = profile
    offsets = sorted({0, written - 1, *(written * i // (n_offsets + 1) for i in range(1, n_offsets + 1))})
    return [("offset", o) for o in offsets] + [("op", i) for i in range(1, ops + 1)]


@pytest.mark.slow
def test_the_profile_counts_the_save(profile):
    written, ops = profile
    assert written > 10_000 and ops == 3  # one file: its fsync, the rename, the folder's fsync (a name replaced: no prune)


@pytest.mark.parametrize("kind, at", [("offset", 20_000), ("op", 2)])  # inside the file; the same name's old file not yet replaced
def test_kill_9_inside_a_save_then_resume_equals_the_uninterrupted_run(tmp_path, full, kind, at):
    plan = kp.KillPlan(SAVE, **({"offset": at} if kind == "offset" else {"op_index": at}))
    assert _kill_and_resume(tmp_path, full, plan) == []


def test_kill_9_before_a_save_prunes_leaves_one_checkpoint_too_many_and_resume_is_exact(tmp_path, full):
    written, ops = kp.save_profile(tmp_path / "profile", 4)  # the 4th save: the first that prunes (keep 3)
    assert ops == 4  # its fsync, the rename, the folder's fsync, the unlink of the oldest
    assert _kill_and_resume(tmp_path / "run", full, kp.KillPlan(4, op_index=4)) == []


@pytest.mark.slow
def test_kill_9_at_every_operation_and_many_offsets(tmp_path, full, profile):
    bad = {}
    for kind, at in _points(profile, 24):
        plan = kp.KillPlan(SAVE, **({"offset": at} if kind == "offset" else {"op_index": at}))
        diff = _kill_and_resume(tmp_path / f"{kind}-{at}", full, plan)
        if diff:
            bad[(kind, at)] = diff[:3]
    assert bad == {}
