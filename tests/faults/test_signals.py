"""SIGTERM / SIGINT at a random moment of a command-line run, then ``--resume``: the run folder
ends up equal to the uninterrupted run's (weights by torch.equal, metrics logs, summaries and
the starts table by ==). The run is examples/digits.toml (early stopping on) made small, with
restarts and saves every 7 steps; the slow part adds two starts and many trials."""

import random
import signal

import pytest

from faults import cli_runs as cr


pytestmark = pytest.mark.filterwarnings("ignore::deepnets.train.setup.FewExamplesWarning")  # 12 hidden units: small on purpose


def test_a_signal_at_a_random_moment_then_resume_equals_the_uninterrupted_run(tmp_path):
    cr.train(tmp_path, "full", cr.DIGITS_SMALL)
    full = cr.run_files(tmp_path / "full")
    assert full["metrics.jsonl"][-1]["restarts"] == 1 and len(full["metrics.jsonl"]) < 12  # restart, early stop
    # (seed 15: 3 epochs in, then 1 ms: inside training even now that background checkpoints made the
    # epochs short; seed 5 drew the 10th epoch, which a run may now finish within the 26 ms that followed)
    got = cr.trial(tmp_path, "cut", cr.DIGITS_SMALL, full=full, rnd=random.Random(15), signum=signal.SIGINT)
    assert got["status"] == 130 and got["resumed"] and got["differs"] == []  # Ctrl-C in training: 130


@pytest.mark.slow
@pytest.mark.parametrize("args", [cr.DIGITS_SMALL, cr.DIGITS_STARTS], ids=["one-start", "two-starts"])
def test_many_signals_at_random_moments(tmp_path, args):
    cr.train(tmp_path, "full", args)
    full = cr.run_files(tmp_path / "full")
    rnd = random.Random(11)
    results = [cr.trial(tmp_path, f"cut{i}", args, full=full, rnd=rnd, signum=(signal.SIGTERM, signal.SIGINT)[i % 2])
               for i in range(8)]
    assert [r["differs"] for r in results] == [[]] * 8
    # most signals came inside training: checkpointed, exit 75 on SIGTERM, 130 on SIGINT (Ctrl-C)
    assert sum(r["status"] == (75, 130)[i % 2] for i, r in enumerate(results)) >= 5
