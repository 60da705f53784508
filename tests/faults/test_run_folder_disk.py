"""A full disk outside checkpoint saves: the metrics log, the final weights, the predictions file.
Each gives one line that names the file and says truly what is kept; nothing is half-written; a
finished model is not lost. Simulated (os.write raising ENOSPC for one file) and, where this
machine lets the tests mount one, on a real small tmpfs."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
import torch

from deepnets import atomic
from deepnets.atomic import CheckpointWriteError, FileWriteError
from deepnets.cli import main
from deepnets.experiment import run_experiment
from deepnets.config import experiment_from_dict
from deepnets.train.checkpoint import CheckpointManager

SMALL = ["--set", "data.name=parity", "--set", "data.params={n_bits=3}", "--set", "data.split=[0.75, 0.0, 0.25]",
         "--set", "data.stratify=false", "--set", "model.hidden=[4]", "--set", "train.batch_size=2",
         "--set", "run.plots=false"]


def _train(out, *sets, name="r", epochs=3, every=1):
    return main(["train", *SMALL, "--set", f"train.epochs={epochs}", "--set", f"train.checkpoint.every_epochs={every}",
                 *sets, "--set", f"run.name={name}", "--out", str(out), "--no-progress"])


def _one_line_error(capsys, *parts):
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if not line.startswith("deepnets: warning:")]
    assert len(err) == 1 and err[0].startswith("deepnets: error: "), err
    for p in parts:
        assert p in err[0], err[0]
    return err[0]


def _full_disk_for(monkeypatch, match, *, after_bytes=0, skip=0):
    """os.write (as deepnets.atomic calls it) raises ENOSPC for files whose path contains ``match``,
    after ``skip`` whole writes to them and ``after_bytes`` more bytes (a short write first)."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to tell which file a write goes to")
    real = os.write
    state = {"skip": skip}

    def write(fd, data):
        if match not in os.readlink(f"/proc/self/fd/{fd}"):
            return real(fd, data)
        if state["skip"] > 0:
            state["skip"] -= 1
            return real(fd, data)
        if after_bytes and len(data) > after_bytes:
            n = real(fd, bytes(data[:after_bytes]))  # part of the line goes out, then the disk is full
            if n:
                return n
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(atomic.os, "write", write)


def test_full_disk_on_the_metrics_log_stops_cleanly_and_resumes_exactly(tmp_path, capsys, monkeypatch):
    assert _train(tmp_path / "whole") == 0
    whole = (tmp_path / "whole" / "r" / "metrics.jsonl").read_text().splitlines()
    with monkeypatch.context() as m:
        _full_disk_for(m, "metrics.jsonl", skip=2, after_bytes=7)  # epoch 3's line is cut after 7 bytes
        capsys.readouterr()
        assert _train(tmp_path) == 2
    run = tmp_path / "r"
    _one_line_error(capsys, f"cannot write epoch 3 to the metrics log {run / 'metrics.jsonl'}: no space left on "
                    "device", "its earlier lines are kept; training stopped;",
                    f"{run} holds config.toml, metrics.jsonl (2 epochs) and checkpoints up to",
                    f"'deepnets train --resume {run}' continues from there")
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert lines == whole[:2]  # no half line of epoch 3
    assert not (run / "weights.safetensors").exists() and not (run / ".lock").exists()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0  # once there is space again
    assert (run / "metrics.jsonl").read_text().splitlines() == whole  # bit-exact from epoch 2's checkpoint


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    """The system temp folder of this test (where a rescued run goes)."""
    d = tmp_path / "systemp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def test_full_disk_on_the_final_weights_rescues_the_trained_model(tmp_path, capsys, monkeypatch, temp_dir):
    out = tmp_path / "runs"
    with monkeypatch.context() as m:
        _full_disk_for(m, str(out / "r" / ".tmp-weights.safetensors"))
        assert _train(out, every=0) == 2  # no checkpoints: the model exists only in memory
    run = out / "r"
    (rescued,) = temp_dir.iterdir()
    err = _one_line_error(capsys, f"cannot write weights file {run / 'weights.safetensors'}: no space left on "
                          "device", "nothing was written", f"the finished run was written to {rescued} instead",
                          f"'deepnets evaluate {rescued}' reads it")
    assert "checkpoint" not in err
    assert not (run / "weights.safetensors").exists() and not (run / "summary.json").exists()
    assert sorted(os.listdir(run)) == ["config.toml", "metrics.jsonl"]  # no temp file left behind
    assert main(["evaluate", str(rescued)]) == 0
    recorded = json.loads((rescued / "summary.json").read_text())["metrics"]["test"]["loss"]
    assert f"test: loss {recorded:.4f}" in capsys.readouterr().out  # the trained model, not a fresh one


def test_when_the_rescue_fails_too_the_message_says_the_weights_are_lost(tmp_path, capsys, monkeypatch, temp_dir):
    with monkeypatch.context() as m:
        _full_disk_for(m, "weights.safetensors")
        assert _train(tmp_path, every=0) == 2
    run = tmp_path / "r"
    _one_line_error(capsys, "cannot write weights file", "no copy could be written to the temp folder either: "
                    "the trained weights are lost", f"{run} holds config.toml, metrics.jsonl (3 epochs) and no "
                    "checkpoint: the run cannot be resumed")
    assert list(temp_dir.iterdir()) == []  # the failed rescue left nothing


def test_from_python_the_error_keeps_the_trained_model(tmp_path, monkeypatch, temp_dir):
    exp = experiment_from_dict({"data": {"name": "parity", "params": {"n_bits": 3}, "split": [0.75, 0.0, 0.25],
                                         "stratify": False},
                                "model": {"hidden": [4]}, "train": {"epochs": 3, "batch_size": 2},
                                "run": {"out": str(tmp_path), "name": "r", "plots": False, "progress": False}})
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))  # the rescue fails as well
    _full_disk_for(monkeypatch, "weights.safetensors")
    with pytest.raises(FileWriteError, match="the trained weights are lost") as info:
        run_experiment(exp)
    model = info.value.result.model
    x = torch.tensor([[0.0, 1.0, 1.0]])
    assert isinstance(model, torch.nn.Module) and torch.isfinite(model(x)).all()
    assert info.value.result.summary["epochs_run"] == 3


def test_a_full_disk_on_a_first_checkpoint_does_not_speak_of_previous_ones(tmp_path, monkeypatch):
    model = torch.nn.Linear(2, 1)
    _full_disk_for(monkeypatch, "checkpoints")
    with pytest.raises(CheckpointWriteError, match="no space left on device.*the run has no earlier checkpoint$"):
        CheckpointManager(tmp_path).save(1, model=model)
    monkeypatch.undo()
    CheckpointManager(tmp_path).save(1, model=model)
    _full_disk_for(monkeypatch, "checkpoints")
    with pytest.raises(CheckpointWriteError, match="the previous checkpoints are untouched .newest: step-000000001.$"):
        CheckpointManager(tmp_path).save(2, model=model)


def test_predictions_file_errors_name_the_predictions_file(tmp_path, capsys, monkeypatch):
    assert _train(tmp_path, epochs=1) == 0
    csv = tmp_path / "new.csv"
    csv.write_text("x1,x2,x3\n1,0,0\n0,1,1\n")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "r"), str(csv), "--out", str(tmp_path / "nope" / "p.csv")]) == 2
    err = _one_line_error(capsys, f"cannot write the predictions file {tmp_path / 'nope' / 'p.csv'}: the folder "
                          f"{tmp_path / 'nope'} does not exist")
    assert "checkpoint" not in err
    assert main(["predict", str(tmp_path / "r"), str(csv), "--out", str(tmp_path)]) == 2
    _one_line_error(capsys, f"cannot write the predictions file {tmp_path}: it is a folder")
    (tmp_path / "p.csv").write_text("old\n")
    _full_disk_for(monkeypatch, "p.csv")
    assert main(["predict", str(tmp_path / "r"), str(csv), "--out", str(tmp_path / "p.csv")]) == 2
    err = _one_line_error(capsys, f"cannot write predictions file {tmp_path / 'p.csv'}: no space left on device",
                          "p.csv keeps its previous content")
    assert "checkpoint" not in err and (tmp_path / "p.csv").read_text() == "old\n"


# --------------------------------------------------------------------------- a real full disk


@pytest.fixture
def small_tmpfs(tmp_path):
    """A tmpfs of 3 pages (12 KiB) mounted for the test, or a skip saying why not."""
    if sys.platform != "linux" or shutil.which("mount") is None:
        pytest.skip("a tmpfs needs Linux and mount(8)")
    where = tmp_path / "small"
    where.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(where)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


def test_a_real_full_tmpfs_stops_a_run_with_one_line_and_whole_lines(small_tmpfs, capsys):
    """Three pages: the lock, config.toml and one page of metrics.jsonl (about 35 epochs), then
    the disk is really full for the next line."""
    assert _train(small_tmpfs, epochs=100, every=0) == 2
    run = small_tmpfs / "r"
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert 10 < len(lines) < 100 and [json.loads(line)["epoch"] for line in lines] == list(range(1, len(lines) + 1))
    _one_line_error(capsys, f"cannot write epoch {len(lines) + 1} to the metrics log", "no space left on device",
                    f"metrics.jsonl ({len(lines)} epochs) and no checkpoint: the run cannot be resumed")
