"""SIGTERM / SIGINT at a random moment of a command-line run, then ``--resume``: the run folder
ends up equal to the uninterrupted run's (weights by torch.equal, metrics logs, summaries and
the starts table by ==). The run is examples/digits.toml (early stopping on) made small, with
restarts and saves every 7 steps; the slow part adds two starts and many trials."""

import random
import signal

import pytest

from faults import cli_runs as cr


pytestmark = pytest.mark.filterwarnings("ignore::deepnets.train.setup.FewExamplesWarning")  # 12 hidden units: small on purpose


def _trial(tmp_path, full, args, rnd, signum, name):
    epochs = sum(len(v) for k, v in full.items() if k.endswith("metrics.jsonl") and "/" in k) or \
        len(full["metrics.jsonl"])  # epochs logged in all (a multi-start run: by every start)
    status, _ = cr.interrupt(tmp_path, name, args, rnd=rnd, signum=signum, max_epochs=epochs - 1)
    if status == 75:  # stopped and checkpointed (0: it finished before the signal came)
        cr.resume(tmp_path / name)
    return status, cr.same_run(full, cr.run_files(tmp_path / name))


def test_a_signal_at_a_random_moment_then_resume_equals_the_uninterrupted_run(tmp_path):
    cr.train(tmp_path, "full", cr.DIGITS_SMALL)
    full = cr.run_files(tmp_path / "full")
    assert full["metrics.jsonl"][-1]["restarts"] == 1 and len(full["metrics.jsonl"]) < 12  # restart, early stop
    status, diff = _trial(tmp_path, full, cr.DIGITS_SMALL, random.Random(5), signal.SIGINT, "cut")
    assert status == 75 and diff == []


@pytest.mark.slow
@pytest.mark.parametrize("args", [cr.DIGITS_SMALL, cr.DIGITS_STARTS], ids=["one-start", "two-starts"])
def test_many_signals_at_random_moments(tmp_path, args):
    cr.train(tmp_path, "full", args)
    full = cr.run_files(tmp_path / "full")
    rnd, results = random.Random(11), []
    for i in range(8):
        results.append(_trial(tmp_path, full, args, rnd, (signal.SIGTERM, signal.SIGINT)[i % 2], f"cut{i}"))
    assert [d for _, d in results] == [[]] * 8
    assert sum(s == 75 for s, _ in results) >= 6  # most signals came before the end
