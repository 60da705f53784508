"""The command line's start-up and its signals: ``--help`` and ``--version`` import neither torch
nor numpy; Ctrl-C at start-up, while loading and while training exits with status 130 and no
traceback; an interrupt names the epoch, the step and the exact command to continue; a resume
says where it resumed from; ``--resume`` on a finished run says so instead of training again."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import deepnets
from deepnets.cli import build_parser, main
from deepnets.errors import CheckpointError
from deepnets.experiment import resume_run

SRC = str(Path(deepnets.__file__).resolve().parent.parent)
ENV = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
#: every subcommand the parser has (a new one joins the start-up test by being there)
COMMANDS = sorted(next(a for a in build_parser()._actions if a.dest == "command").choices)
# The child says "go" once Python runs, then starts the command line exactly as ``deepnets`` does.
LAUNCH = "import sys; print('go', flush=True); from deepnets.cli import main; sys.exit(main(sys.argv[1:]))"
TRAIN = ["train", "--set", "data.name=parity", "--set", "data.params={n_bits=6}", "--set", "model.hidden=[8]",
         "--set", "train.epochs=100000", "--set", "train.batch_size=8", "--set", "train.checkpoint.every_epochs=0",
         "--no-progress"]


def test_help_and_version_import_neither_torch_nor_numpy():
    code = ("import sys\nfrom deepnets.cli import main\n"
            "for argv in [['--help'], ['--version']] + [[c, '--help'] for c in sys.argv[1:]]:\n"
            "    try:\n        main(argv)\n    except SystemExit as e:\n        assert e.code == 0, (argv, e.code)\n"
            "print('LOADED', sorted(m for m in ('torch', 'numpy') if m in sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code, *COMMANDS], capture_output=True, text=True, env=ENV, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "LOADED []" in r.stdout
    for command in COMMANDS:
        assert f"usage: deepnets {command}" in r.stdout
    assert f"deepnets {deepnets.__version__}" in r.stdout


def test_import_deepnets_is_lazy_and_its_names_load_on_first_use():
    code = ("import sys, deepnets\nassert 'torch' not in sys.modules\nnet = deepnets.MLP([2, 3, 1], seed=0)\n"
            "assert 'torch' in sys.modules and deepnets.MLP is deepnets.nn.MLP and 'MLP' in dir(deepnets)\n"
            "from deepnets import *\nassert fit is deepnets.train.fit\nprint('OK')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert r.returncode == 0 and "OK" in r.stdout, r.stderr
    with pytest.raises(AttributeError, match="no attribute 'Laplace'"):
        deepnets.Laplace


def _start(args, cwd):
    # Ctrl-C as a terminal delivers it: SIGINT at its default in the child, even where the test runner's
    # process ignores it (a pytest-xdist worker does, and a child inherits an ignored signal)
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV, cwd=cwd,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.readline().strip() == "go"
    return proc


def _wait_for(path: Path, lines: int, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and (not path.exists() or len(path.read_text().splitlines()) < lines):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)


@pytest.mark.parametrize("delay", [0.2, 1.0])
def test_ctrl_c_while_starting_exits_130_without_a_traceback(tmp_path, delay):
    proc = _start([*TRAIN, "--out", str(tmp_path), "--set", "run.name=r"], tmp_path)
    time.sleep(delay)  # importing torch, loading the data, or already training
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.count("deepnets: interrupted") == 1, err


def test_ctrl_c_while_training_checkpoints_names_the_resume_command_and_resume_says_where(tmp_path, capsys):
    args = [*TRAIN, "--out", str(tmp_path), "--set", "run.name=cut", "--set", "train.epochs=60"]
    proc = _start(args, tmp_path)
    run = tmp_path / "cut"
    _wait_for(run / "metrics.jsonl", 3, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    m = re.search(r"deepnets: interrupted at epoch (\d+), step (\d+) \(SIGINT\); checkpoint written; "
                  r"continue with: deepnets train --resume (\S+)\n", err)
    assert m, err
    assert Path(m.group(3)) == run.resolve()
    assert main(["train", "--resume", m.group(3)]) == 0
    captured = capsys.readouterr()
    assert f"resumed from epoch {m.group(1)}, step {m.group(2)} (checkpoint step-" in captured.err
    assert "epochs" in captured.out and "run written to" in captured.out
    before = (run / "metrics.jsonl").read_text()
    assert main(["train", "--resume", m.group(3)]) == 0  # finished: said, not trained again
    out = capsys.readouterr().out
    assert "finished: 60 epochs" in out and "nothing to resume" in out
    assert (run / "metrics.jsonl").read_text() == before and len(before.splitlines()) == 60
    with pytest.raises(CheckpointError, match="finished: 60 epochs.*nothing to resume"):
        resume_run(run)  # the library says so too, rather than train the last stretch again
