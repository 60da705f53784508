"""Truncation and bit flips in every part of the newest checkpoint's file (its length, its header,
the digest, the tensors; for a format-1 folder, each of its three files): the corrupted one is
never loaded (loading it names the file and the fault), the run falls back to the newest good one,
and the run resumed from there ends equal to the uninterrupted run."""

import io
import logging
import random
import shutil

import pytest

from deepnets.errors import CheckpointError, TrainingInterrupted
from deepnets.train.checkpoint import CheckpointManager
from faults import everything as ev
from faults.damage import PARTS, corrupt
from faults.v1_writer import MANIFEST, STATE, WEIGHTS, rewrite_state, to_v1

FILES = (WEIGHTS, STATE, MANIFEST)  # a format-1 folder's


@pytest.fixture(autouse=True)
def _quiet(caplog):
    caplog.set_level(logging.ERROR)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The uninterrupted run, and a run stopped by SIGTERM at step 17 (checkpoints 12, 15, 17)."""
    full = tmp_path_factory.mktemp("full")
    cut = tmp_path_factory.mktemp("cut")
    with pytest.raises(TrainingInterrupted):
        ev.train(cut, kill_step=17, progress=io.StringIO())
    assert [i.step for i in CheckpointManager(cut).list()] == [12, 15, 17]
    return ev.snapshot(*ev.train(full, progress=io.StringIO()), full), cut


def _damaged_copy(runs, tmp_path, part, kind, seed):
    run = tmp_path / "run"
    shutil.copytree(runs[1], run)
    newest = CheckpointManager(run).list()[-1]
    what = corrupt(newest.path, kind, random.Random(seed), PARTS[part])
    return run, newest, what


@pytest.mark.parametrize("part", PARTS)
@pytest.mark.parametrize("kind", ["truncate", "flip"])
def test_a_corrupted_newest_checkpoint_is_refused_and_the_previous_one_is_used(runs, tmp_path, part, kind):
    run, newest, what = _damaged_copy(runs, tmp_path, part, kind, seed=len(part) + len(kind))
    manager = CheckpointManager(run)
    with pytest.raises(CheckpointError, match="truncated|checksum mismatch|corrupt|missing") as err:
        manager.load(newest.name)
    assert str(newest.path) in str(err.value), what
    assert manager.latest_good().step == 15, what
    assert manager.load()["step"] == 15


@pytest.mark.parametrize("name", FILES)
def test_a_corrupted_format_1_folder_is_refused_and_the_previous_one_is_used(runs, tmp_path, name):
    run = tmp_path / "run"
    shutil.copytree(runs[1], run)
    folder = to_v1(CheckpointManager(run).list()[-1])
    what = corrupt(folder / name, "flip", random.Random(len(name)))
    with pytest.raises(CheckpointError, match="checksum mismatch|corrupt") as err:
        CheckpointManager(run).load(folder.name)
    assert str(folder / name) in str(err.value), what
    assert CheckpointManager(run).load()["step"] == 15


@pytest.mark.parametrize("part, kind", [("tensors", "flip"), ("header after the digest", "flip")])
def test_resume_after_corruption_equals_the_uninterrupted_run(runs, tmp_path, part, kind):
    run, _, what = _damaged_copy(runs, tmp_path, part, kind, seed=3)
    got = ev.snapshot(*ev.train(run, resume=True, progress=io.StringIO()), run)
    assert ev.differences(runs[0], got) == [], what


class _RunsCode:
    def __reduce__(self):
        return (print, ("this would have run",))


def test_a_newest_checkpoint_that_would_run_code_is_skipped_like_a_corrupted_one(runs, tmp_path):
    # a format-1 folder (the only format with a pickle) whose checksums hold, a state.pt that is not plain data
    run = tmp_path / "run"
    shutil.copytree(runs[1], run)
    folder = to_v1(CheckpointManager(run).list()[-1])
    rewrite_state(folder, {"format": "deepnets-checkpoint", "extra": _RunsCode()})
    manager = CheckpointManager(run)
    assert manager.latest_good().path == folder  # its checksums hold ...
    with pytest.raises(CheckpointError, match="refused"):
        manager.load(folder.name)  # ... but it is refused
    assert manager.load()["step"] == 15  # and the run falls back to the one before
    got = ev.snapshot(*ev.train(run, resume=True, progress=io.StringIO()), run)
    assert ev.differences(runs[0], got) == []


def test_every_checkpoint_corrupted_is_an_error_not_a_fresh_start(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs[1], run)
    rnd = random.Random(0)
    for info, part in zip(CheckpointManager(run).list(), PARTS):
        corrupt(info.path, "flip", rnd, PARTS[part])
    with pytest.raises(CheckpointError, match="no loadable checkpoint"):
        ev.train(run, resume=True, progress=io.StringIO())


@pytest.mark.slow
def test_many_random_corruptions_each_fall_back_and_resume_exactly(runs, tmp_path):
    rnd, bad = random.Random(2024), {}
    for trial in range(30):
        part, kind = rnd.choice(sorted(PARTS)), rnd.choice(["truncate", "flip"])
        run, _, what = _damaged_copy(runs, tmp_path / str(trial), part, kind, seed=rnd.randrange(10 ** 6))
        assert CheckpointManager(run).latest_good().step == 15, what
        diff = ev.differences(runs[0], ev.snapshot(*ev.train(run, resume=True, progress=io.StringIO()), run))
        if diff:
            bad[(trial, part, what)] = diff[:3]
    assert bad == {}
