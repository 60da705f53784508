"""Interrupt + resume with every callback of the library switched on is bit-exact.

The run (tests/faults/everything.py) has graceful stop, the non-finite guard, gradient clipping,
an LR schedule stepped per batch or per epoch, the metrics log, restarts on a stall (one restart,
after epoch 8), early stopping with best-weight restore (it ends the run after epoch 10), the
progress bar, dropout, batch norm, input noise, Adam and a checkpointer saving every 3 steps and
every epoch. A SIGTERM or SIGINT at a step (or during the end-of-epoch hooks) stops it; a fresh
run with ``Checkpointer(resume=True)`` finishes it. The independent answer is the uninterrupted
run: weights and buffers, optimizer state, history, every callback's state and the metrics log
must be equal (torch.equal, floats ==).
"""

import io
import logging
import signal

import pytest

from deepnets.errors import TrainingInterrupted
from faults import everything as ev

STEPS = 50  # 10 epochs of 5 batches (early stopping ends the run after epoch 10)


@pytest.fixture(autouse=True)
def _quiet(caplog):
    caplog.set_level(logging.ERROR)


@pytest.fixture(scope="module")
def full_runs(tmp_path_factory):
    """The uninterrupted run, once per LR-schedule interval."""
    out = {}
    for interval in ("batch", "epoch"):
        run = tmp_path_factory.mktemp(f"full-{interval}")
        out[interval] = ev.snapshot(*ev.train(run, interval=interval, progress=io.StringIO()), run)
    return out


def _cut_and_resume(run, *, kill_step, interval, signum=signal.SIGTERM, epoch_end=False):
    with pytest.raises(TrainingInterrupted):
        ev.train(run, kill_step=kill_step, signum=signum, epoch_end=epoch_end, interval=interval,
                 progress=io.StringIO())
    return ev.snapshot(*ev.train(run, resume=True, interval=interval, progress=io.StringIO()), run)


def test_the_run_uses_every_callback(full_runs):
    full = full_runs["batch"]
    epochs, logs = full["history"]
    assert len(epochs) == 10 < ev.EPOCHS  # early stopping ended it
    assert logs["restarts"][-1] == 1  # one restart happened
    assert len(full["metrics"]) == 10 and full["callbacks"]["EarlyStopping"]["best_epoch"] < 9


@pytest.mark.parametrize("kill_step, interval, signum, epoch_end", [
    (12, "batch", signal.SIGTERM, False),   # mid-epoch 3, between two step checkpoints
    (37, "epoch", signal.SIGINT, False),    # mid-epoch 8, just after the restart
    (50, "epoch", signal.SIGTERM, True),    # in the end-of-epoch hooks of the epoch early stopping ends
])
def test_interrupt_and_resume_equals_the_uninterrupted_run(tmp_path, full_runs, kill_step, interval, signum,
                                                           epoch_end):
    got = _cut_and_resume(tmp_path, kill_step=kill_step, interval=interval, signum=signum, epoch_end=epoch_end)
    assert ev.differences(full_runs[interval], got) == []


@pytest.mark.parametrize("kill_step, epoch_end", [(12, False), (30, True)])
def test_a_run_writing_in_the_background_is_flushed_on_sigterm_and_resumes_exactly(tmp_path, full_runs, kill_step,
                                                                                     epoch_end):
    from deepnets.train.checkpoint import CheckpointManager

    with pytest.raises(TrainingInterrupted):
        ev.train(tmp_path, kill_step=kill_step, epoch_end=epoch_end, background=True, progress=io.StringIO())
    newest = CheckpointManager(tmp_path).load()  # on disk when fit returned: the save on the signal
    assert newest["step"] == kill_step and newest["extra"]["loop"]["position"] in (0, kill_step % 5)
    got = ev.snapshot(*ev.train(tmp_path, resume=True, background=True, progress=io.StringIO()), tmp_path)
    assert ev.differences(full_runs["batch"], got) == []


@pytest.mark.slow
@pytest.mark.parametrize("interval", ["batch", "epoch"])
def test_every_interruption_point_resumes_bit_for_bit(tmp_path, full_runs, interval):
    bad = {}
    for kill_step in range(1, STEPS + 1):
        for epoch_end in (False, True) if kill_step % 5 == 0 else (False,):
            run = tmp_path / f"{kill_step}-{epoch_end}"
            signum = signal.SIGINT if kill_step % 2 else signal.SIGTERM
            diff = ev.differences(full_runs[interval], _cut_and_resume(
                run, kill_step=kill_step, interval=interval, signum=signum, epoch_end=epoch_end))
            if diff:
                bad[(kill_step, epoch_end)] = diff[:3]
    assert bad == {}
