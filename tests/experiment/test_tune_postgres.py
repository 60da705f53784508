"""Two worker processes on one study in a real PostgreSQL server started here: no trial lost or duplicated."""

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile

import optuna
import pytest

from deepnets.config import experiment_from_dict
from deepnets.experiment.tune import tune_experiment

BIN = "/usr/lib/postgresql/15/bin"


@pytest.fixture
def postgres_url():
    """A throw-away PostgreSQL cluster on a Unix socket (initdb refuses root: run as postgres); stopped after."""
    if not os.path.exists(os.path.join(BIN, "initdb")) or shutil.which("runuser") is None:
        pytest.skip(f"no PostgreSQL server binaries in {BIN} (Debian's postgresql-15) or no runuser")
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("psycopg is not installed (pip install 'deepnets[tune]')")
    root = tempfile.mkdtemp(prefix="deepnets-pg-", dir="/tmp")
    data, sock = os.path.join(root, "data"), os.path.join(root, "sock")
    os.mkdir(sock)

    def as_postgres(*cmd):
        return subprocess.run(["runuser", "-u", "postgres", "--", *cmd], capture_output=True, text=True, timeout=60)

    try:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    except (LookupError, PermissionError) as e:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"cannot hand a folder to the postgres user: {e}")
    try:
        r = as_postgres(f"{BIN}/initdb", "-D", data, "-A", "trust", "-U", "postgres")
        if r.returncode != 0:
            pytest.skip(f"initdb failed: {r.stderr.strip()[-300:]}")
        r = as_postgres(f"{BIN}/pg_ctl", "-D", data, "-w", "-l", os.path.join(root, "log"),
                        "-o", f"-k {sock} -c listen_addresses='' -p 5499", "start")
        if r.returncode != 0:
            pytest.skip(f"the PostgreSQL server did not start: {r.stderr.strip()[-300:]}")
        yield f"postgresql+psycopg://postgres@/postgres?host={sock}&port=5499"
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            as_postgres(f"{BIN}/pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow  # a PostgreSQL server and two worker processes (each imports torch): ~30 s
def test_two_workers_share_a_postgres_study_without_losing_or_duplicating_a_trial(tmp_path, postgres_url, capfd):
    cfg = {"data": {"name": "function", "params": {"f": "sin", "n_samples": 60}, "scale": "none"},
           "model": {"hidden": [3], "output": "linear"},
           "train": {"epochs": 6, "batch_size": 0, "loss": {"name": "lms"}},
           "run": {"out": str(tmp_path), "progress": False, "plots": False},
           "tune": {"space": {"train.optimizer.lr": {"low": 1e-3, "high": 0.1, "log": True}}, "trials": 7,
                    "workers": 2, "sampler": "random", "storage": postgres_url, "retrain": False, "plots": False}}
    r = tune_experiment(experiment_from_dict(cfg), source="pg.toml")
    trials = optuna.load_study(study_name="pg", storage=postgres_url).trials
    assert r.n_complete == 7 and [t.number for t in trials] == list(range(7))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    lines = re.findall(r"^trial (\d+) complete", capfd.readouterr().err, flags=re.M)
    assert sorted(map(int, lines)) == list(range(7))  # each trial ran once, in one of the two workers
    assert len({t.params["train.optimizer.lr"] for t in trials}) == 7  # the workers' samplers differ
