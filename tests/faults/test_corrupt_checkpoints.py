"""Truncation and bit flips of every file of the newest checkpoint: the corrupted one is never
loaded (loading it names the file and the fault), the run falls back to the newest good one, and
the run resumed from there ends equal to the uninterrupted run."""

import hashlib
import io
import json
import logging
import random
import shutil

import pytest
import torch

from deepnets.errors import CheckpointError, TrainingInterrupted
from deepnets.train.checkpoint import MANIFEST, STATE, WEIGHTS, CheckpointManager, _manifest_bytes
from faults import everything as ev

FILES = (WEIGHTS, STATE, MANIFEST)


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


def corrupt(path, kind: str, rnd: random.Random) -> str:
    """Truncate ``path`` at a random length or flip one random bit; return what was done."""
    data = bytearray(path.read_bytes())
    if kind == "truncate":
        n = rnd.randrange(len(data))
        path.write_bytes(bytes(data[:n]))
        return f"truncated to {n} of {len(data)} bytes"
    i, bit = rnd.randrange(len(data)), rnd.randrange(8)
    data[i] ^= 1 << bit
    path.write_bytes(bytes(data))
    return f"bit {bit} of byte {i} flipped"


def _damaged_copy(runs, tmp_path, name, kind, seed):
    run = tmp_path / "run"
    shutil.copytree(runs[1], run)
    newest = CheckpointManager(run).list()[-1]
    what = corrupt(newest.path / name, kind, random.Random(seed))
    return run, newest, what


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("kind", ["truncate", "flip"])
def test_a_corrupted_newest_checkpoint_is_refused_and_the_previous_one_is_used(runs, tmp_path, name, kind):
    run, newest, what = _damaged_copy(runs, tmp_path, name, kind, seed=len(name) + len(kind))
    manager = CheckpointManager(run)
    with pytest.raises(CheckpointError, match="truncated|checksum mismatch|corrupt|missing") as err:
        manager.load(newest.name)
    assert str(newest.path) in str(err.value), what
    assert manager.latest_good().step == 15, what
    assert manager.load()["step"] == 15


@pytest.mark.parametrize("name, kind", [(STATE, "flip")])
def test_resume_after_corruption_equals_the_uninterrupted_run(runs, tmp_path, name, kind):
    run, _, what = _damaged_copy(runs, tmp_path, name, kind, seed=3)
    got = ev.snapshot(*ev.train(run, resume=True, progress=io.StringIO()), run)
    assert ev.differences(runs[0], got) == [], what


class _RunsCode:
    def __reduce__(self):
        return (print, ("this would have run",))


def test_a_newest_checkpoint_that_would_run_code_is_skipped_like_a_corrupted_one(runs, tmp_path):
    # checksums that hold (the manifest rewritten to match), a state.pt that is not plain data
    run = tmp_path / "run"
    shutil.copytree(runs[1], run)
    newest = CheckpointManager(run).list()[-1]
    buf = io.BytesIO()
    torch.save({"format": "deepnets-checkpoint", "extra": _RunsCode()}, buf)
    (newest.path / STATE).write_bytes(buf.getvalue())
    body = json.loads((newest.path / MANIFEST).read_text())
    body.pop("manifest_sha256")
    body["files"][STATE] = {"bytes": len(buf.getvalue()), "sha256": hashlib.sha256(buf.getvalue()).hexdigest()}
    (newest.path / MANIFEST).write_bytes(_manifest_bytes(body))
    manager = CheckpointManager(run)
    assert manager.latest_good() == newest  # its checksums hold ...
    with pytest.raises(CheckpointError, match="refused"):
        manager.load(newest.name)  # ... but it is refused
    assert manager.load()["step"] == 15  # and the run falls back to the one before
    got = ev.snapshot(*ev.train(run, resume=True, progress=io.StringIO()), run)
    assert ev.differences(runs[0], got) == []


def test_every_checkpoint_corrupted_is_an_error_not_a_fresh_start(runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs[1], run)
    rnd = random.Random(0)
    for info, name in zip(CheckpointManager(run).list(), FILES):
        corrupt(info.path / name, "flip", rnd)
    with pytest.raises(CheckpointError, match="no loadable checkpoint"):
        ev.train(run, resume=True, progress=io.StringIO())


@pytest.mark.slow
def test_many_random_corruptions_each_fall_back_and_resume_exactly(runs, tmp_path):
    rnd, bad = random.Random(2024), {}
    for trial in range(30):
        name, kind = rnd.choice(FILES), rnd.choice(["truncate", "flip"])
        run, _, what = _damaged_copy(runs, tmp_path / str(trial), name, kind, seed=rnd.randrange(10 ** 6))
        assert CheckpointManager(run).latest_good().step == 15, what
        diff = ev.differences(runs[0], ev.snapshot(*ev.train(run, resume=True, progress=io.StringIO()), run))
        if diff:
            bad[(trial, name, what)] = diff[:3]
    assert bad == {}
