"""The run folder: settings checked before it exists, one writer at a time (a lock that names its
holder and is taken over from a killed one), and resume past a checkpoint that would run code."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch

from deepnets.cli import main
from deepnets.experiment.lock import RunLock, RunLockedError
from deepnets.train.checkpoint import CheckpointManager
from faults.v1_writer import rewrite_state, to_v1

SMALL = ["--set", "data.name=parity", "--set", "data.params={n_bits=3}", "--set", "data.split=[0.75, 0.0, 0.25]",
         "--set", "data.stratify=false", "--set", "model.hidden=[4]", "--set", "train.batch_size=2",
         "--set", "train.checkpoint.every_epochs=1", "--set", "train.checkpoint.keep=3",
         "--set", "run.plots=false"]


def _train(tmp_path, *sets, name="r", epochs=3):
    return main(["train", *SMALL, "--set", f"train.epochs={epochs}", *sets, "--set", f"run.name={name}",
                 "--out", str(tmp_path), "--no-progress"])


def _unfinished(run):
    """The run folder as an interrupted run leaves it: checkpoints, no summary (a finished run has
    nothing to resume, and --resume says so before it takes the lock)."""
    (run / "summary.json").unlink()
    return run


def _one_line_error(capsys, *parts):
    err = capsys.readouterr().err.strip()
    assert err.startswith("deepnets: error: ") and "\n" not in err, err
    for p in parts:
        assert p in err, err
    return err


@pytest.mark.parametrize("sets,message", [
    (["train.epochs=-1"], "train.epochs must be a non-negative integer, got -1"),
    (["train.optimizer.lr=-0.1"], "train.optimizer.lr must be a finite number > 0, got -0.1"),
    (["train.optimizer.name=sgd", "train.optimizer.momentum=-1"], "train.optimizer 'sgd': Invalid momentum"),
    (["train.device.name=bogus"], "train.device.name: expected 'cpu', 'cuda', 'cuda:N' or 'mps', got 'bogus'"),
    (["train.device.name=cuda:99"], "train.device.name = 'cuda:99', but this machine has"),
    (["train.early_stopping.patience=2"], "[train.early_stopping] needs a validation split"),
    (["train.diverge_factor=1"], "train.diverge_factor must be 0 (off) or a finite number > 1, got 1.0"),
])
def test_a_mistake_in_train_leaves_no_run_folder(tmp_path, capsys, sets, message):
    out = tmp_path / "runs"
    assert main(["train", *SMALL, *[a for s in sets for a in ("--set", s)], "--out", str(out), "--no-progress"]) == 2
    _one_line_error(capsys, message)
    assert not out.exists()  # caught before the run folder (or even run.out) was made


def test_out_under_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["train", *SMALL, "--out", str(tmp_path / "afile" / "runs"), "--no-progress"]) == 2
    _one_line_error(capsys, "run.out: cannot create the run folder", f"{tmp_path / 'afile'} is a file, not a folder")


# --------------------------------------------------------------------------- the lock

class _Holder:
    """A real second process (forked: no interpreter start-up) that takes a RunLock on ``folder``
    and holds it until :meth:`let_go`, or until it is killed."""

    def __init__(self, folder):
        go_r, self._go = os.pipe()
        ready, ready_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: lock, say so, wait, unlock
            try:
                lock = RunLock(folder).acquire()
                os.write(ready_w, b"1")
                os.read(go_r, 1)
                lock.release()
            finally:
                os._exit(0)
        os.close(go_r)
        os.close(ready_w)
        assert os.read(ready, 1) == b"1"
        os.close(ready)

    def let_go(self) -> int:
        os.write(self._go, b"1")
        os.close(self._go)
        return os.waitpid(self.pid, 0)[1]

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self._go)


def test_a_second_writer_is_refused_naming_the_holder(tmp_path, capsys):
    assert _train(tmp_path) == 0
    run = _unfinished(tmp_path / "r")
    metrics = (run / "metrics.jsonl").read_bytes()
    holder = _Holder(run)
    try:
        with pytest.raises(RunLockedError, match=f"in use by process {holder.pid} ") as info:
            RunLock(run).acquire()
        assert info.value.pid == holder.pid
        capsys.readouterr()
        assert main(["train", "--resume", str(run), "--no-progress"]) == 2
        _one_line_error(capsys, f"{run} is in use by process {holder.pid}", "lock file")
        assert (run / "metrics.jsonl").read_bytes() == metrics  # the refused writer touched nothing
    finally:
        status = holder.let_go()
    assert status == 0 and not (run / ".lock").exists()
    with RunLock(run) as lock:  # free again once the holder let go
        assert lock.stale_pid is None


def test_a_stale_lock_of_a_killed_writer_is_taken_over(tmp_path, capsys, caplog):
    run = tmp_path / "run"
    run.mkdir()
    holder = _Holder(run)
    holder.kill()
    assert (run / ".lock").read_text().split()[0] == str(holder.pid)  # the dead writer's file is still there
    with caplog.at_level("WARNING"), RunLock(run) as lock:
        assert lock.stale_pid == holder.pid
        assert (run / ".lock").read_text().split()[0] == str(os.getpid())
    assert f"stale lock of process {holder.pid}" in caplog.text
    assert not (run / ".lock").exists()


def test_resume_takes_over_the_lock_of_a_killed_run(tmp_path, capsys):
    assert _train(tmp_path, epochs=2) == 0
    run = _unfinished(tmp_path / "r")
    holder = _Holder(run)
    holder.kill()
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert not (run / ".lock").exists()


def test_the_same_process_is_not_its_own_stale_holder(tmp_path):
    with RunLock(tmp_path) as lock:
        with pytest.raises(RunLockedError, match=f"process {os.getpid()}"):
            RunLock(tmp_path).acquire()  # a second lock in one process is a second writer too
        assert lock.stale_pid is None


# --------------------------------------------------------------------------- code in a valid checkpoint


class _Marker:
    """Unpickling this object creates a file: the code-execution probe."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _forge(info, marker):
    """Turn checkpoint ``info`` into a format-1 folder (the format with a pickle) whose state.pt
    would run code, with checksums that match."""
    rewrite_state(to_v1(info), {"format": "deepnets-checkpoint", "x": _Marker(marker)})


def test_resume_falls_back_past_a_checkpoint_that_would_run_code(tmp_path, capsys, caplog):
    assert _train(tmp_path, epochs=3) == 0
    run = tmp_path / "r"
    infos = CheckpointManager(run).list()
    assert len(infos) == 3
    marker = tmp_path / "pwned"
    _forge(infos[-1], marker)
    assert CheckpointManager(run).latest_good().name == infos[-1].name  # its checksums hold
    for f in ("weights.safetensors", "summary.json"):
        (run / f).unlink()
    with caplog.at_level("WARNING"):
        ckpt = CheckpointManager(run).load_latest_good()
    assert ckpt["name"] == infos[-2].name and "state.pt: refused" in caplog.text
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert not marker.exists()
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]  # epoch 3 redone from epoch 2's checkpoint
    assert (run / "weights.safetensors").is_file()


def test_resume_refuses_when_every_checkpoint_would_run_code(tmp_path, capsys):
    assert _train(tmp_path, "--set", "train.checkpoint.keep=1", epochs=2) == 0
    run = _unfinished(tmp_path / "r")
    (info,) = CheckpointManager(run).list()
    marker = tmp_path / "pwned"
    _forge(info, marker)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    _one_line_error(capsys, "no loadable checkpoint", "state.pt: refused")
    assert not marker.exists()


# --------------------------------------------------------------------------- the final weights' checksum


def test_a_bit_flip_in_the_final_weights_is_refused_by_evaluate_and_predict(tmp_path, capsys):
    import hashlib

    assert _train(tmp_path, epochs=1) == 0
    run = tmp_path / "r"
    weights = run / "weights.safetensors"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["weights_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    csv = tmp_path / "new.csv"
    csv.write_text("x1,x2,x3\n1,0,0\n0,1,1\n")
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0 and main(["predict", str(run), str(csv)]) == 0
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01  # one bit of the last tensor: safetensors still parses it
    weights.write_bytes(bytes(data))
    capsys.readouterr()
    for argv in (["evaluate", str(run)], ["predict", str(run), str(csv)]):
        assert main(argv) == 2
        _one_line_error(capsys, f"{weights}: checksum mismatch: summary.json records SHA-256 "
                        f"{summary['weights_sha256']}", hashlib.sha256(bytes(data)).hexdigest())


def test_a_run_without_a_recorded_checksum_is_read_with_a_warning(tmp_path, capsys):
    assert _train(tmp_path, epochs=1) == 0
    run = tmp_path / "r"
    summary = json.loads((run / "summary.json").read_text())
    del summary["weights_sha256"]
    (run / "summary.json").write_text(json.dumps(summary))
    with pytest.warns(UserWarning, match="records no checksum .* the weights are not verified"):
        assert main(["evaluate", str(run)]) == 0


# --------------------------------------------------------------------------- divergence


def test_an_exploding_loss_ends_the_run_with_a_message_true_about_what_is_saved(tmp_path, capsys):
    assert _train(tmp_path, "--set", "train.optimizer.lr=1e6", "--set", "train.checkpoint.every_epochs=0",
                  epochs=5) == 2
    run = tmp_path / "r"
    err = _one_line_error(capsys, "training diverged at epoch 1: the epoch's loss", "times the untrained network's",
                          f"nothing after the last checkpoint is saved: {run} holds config.toml, metrics.jsonl "
                          "(1 epoch) and no checkpoint: the run cannot be resumed")
    assert "weights from before" not in err
    assert sorted(os.listdir(run)) == ["config.toml", "metrics.jsonl"]
    logged = json.loads((run / "metrics.jsonl").read_text())["loss"]
    assert f"the epoch's loss {logged:.4g} is" in err
    assert _train(tmp_path, "--set", "train.optimizer.lr=1e6", "--set", "train.diverge_factor=0", name="off",
                  epochs=2) == 0  # the rule switched off: the run goes on as before



def test_a_non_finite_loss_ends_the_run_with_a_message_true_about_what_is_saved(tmp_path, capsys):
    sin = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "sin.toml")
    assert main(["train", sin, "--set", "train.optimizer.name=sgd", "--set", "train.optimizer.lr=1e20",
                 "--set", "train.epochs=3", "--set", "run.name=n", "--set", "run.plots=false", "--out", str(tmp_path),
                 "--no-progress"]) == 2
    run = tmp_path / "n"
    _one_line_error(capsys, "non-finite values at epoch 2, batch 1: loss is inf",
                    f"nothing after the last checkpoint is saved: {run} holds config.toml, metrics.jsonl (1 epoch) "
                    "and no checkpoint: the run cannot be resumed")
    assert sorted(os.listdir(run)) == ["config.toml", "metrics.jsonl"]

# --------------------------------------------------------------------------- a DDP checkpoint in one process


def test_a_checkpoint_of_two_ranks_is_refused_by_one_process(tmp_path, capsys, monkeypatch):
    from deepnets.train.callbacks import checkpointer

    with monkeypatch.context() as m:  # the saves record what a 2-rank run records (the loop sees 1 rank)
        m.setattr(checkpointer, "world", lambda: (0, 2))
        assert _train(tmp_path, epochs=2) == 0
    run = _unfinished(tmp_path / "r")
    (run / "weights.safetensors").unlink()
    metrics = (run / "metrics.jsonl").read_bytes()
    newest = CheckpointManager(run).list()[-1].path
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    _one_line_error(capsys, f"{newest}: written by a run on 2 process(es), resumed by 1",
                    "torchrun --nproc_per_node 2")
    assert (run / "metrics.jsonl").read_bytes() == metrics and not (run / ".lock").exists()


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="torch.distributed with gloo is needed")
def test_a_real_two_rank_checkpoint_is_refused_by_one_process(tmp_path, capsys):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "deepnets",
           "train", *SMALL, "--set", "train.epochs=2", "--set", "run.name=r", "--out", str(tmp_path), "--no-progress"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path / "r"
    (run / "summary.json").unlink()  # as if stopped before its end (a finished run has nothing to resume)
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    _one_line_error(capsys, "written by a run on 2 process(es), resumed by 1")


# --------------------------------------------------------------------------- a signal after training


@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_after_training_finishes_the_run_then_stops_with_a_message(tmp_path, capsys, monkeypatch, sig,
                                                                            status):
    from deepnets.experiment import run as run_module

    fell_through, sent = [], []
    previous = signal.signal(sig, lambda *a: fell_through.append(a))  # where today's code would land
    real = run_module.split_metrics

    def signal_then_evaluate(*args, **kwargs):  # the first thing after training: evaluation (once)
        if not sent:
            sent.append(os.kill(os.getpid(), sig))
        return real(*args, **kwargs)
    monkeypatch.setattr(run_module, "split_metrics", signal_then_evaluate)
    try:
        assert _train(tmp_path, epochs=2) == status
    finally:
        signal.signal(sig, previous)
    assert not fell_through  # the run's own handler took it
    run = tmp_path / "r"
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"deepnets: {signal.Signals(sig).name} arrived after training had ended: the run was finished and "
                   f"written to {run} before stopping ('deepnets evaluate {run}' prints its results)")
    assert (run / "weights.safetensors").is_file() and (run / "summary.json").is_file()
    assert not (run / ".lock").exists()
    assert main(["evaluate", str(run)]) == 0


def test_a_second_ctrl_c_after_training_stops_at_once(tmp_path):
    # in a child: the command's Ctrl-C handler leaves the process at once (status 130, one line)
    import subprocess
    import sys

    code = (
        "import os, signal, sys\n"
        "from deepnets.cli import main\n"
        "from deepnets.experiment import run as run_module\n"
        "real = run_module.split_metrics\n"
        "def twice(*a, **k):  # evaluation is called once per split: a Ctrl-C each time\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real(*a, **k)\n"
        "run_module.split_metrics = twice\n"
        f"sys.exit(main(['train', *{SMALL!r}, '--set', 'train.epochs=1', '--set', 'run.name=r', "
        f"'--out', {str(tmp_path)!r}, '--no-progress']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "deepnets: interrupted"
    assert "Traceback" not in proc.stderr
    with RunLock(tmp_path / "r"):  # the lock died with the process: the folder can be taken again
        pass
