"""``train.checkpoint.background = true``: the CLI's checkpoints written off the training thread give
the run of the checkpoints written in one go (weights, metrics log), and the newest one resumes."""

from safetensors.torch import load_file
import torch

from deepnets.cli import main
from deepnets.train.checkpoint import CheckpointManager

SMALL = ["--set", "data.name=parity", "--set", "data.params={n_bits=3}", "--set", "data.split=[0.75, 0.0, 0.25]",
         "--set", "data.stratify=false", "--set", "model.hidden=[4]", "--set", "train.batch_size=2",
         "--set", "run.plots=false", "--set", "train.epochs=6", "--set", "train.checkpoint.every_epochs=1"]


def _train(out, name, *sets):
    return main(["train", *SMALL, *sets, "--set", f"run.name={name}", "--out", str(out), "--no-progress"])


def test_background_checkpoints_from_the_cli_give_the_same_run(tmp_path, capsys):
    assert _train(tmp_path, "sync") == 0
    assert _train(tmp_path, "bg", "--set", "train.checkpoint.background=true") == 0
    capsys.readouterr()
    a, b = load_file(tmp_path / "sync" / "weights.safetensors"), load_file(tmp_path / "bg" / "weights.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "sync" / "metrics.jsonl").read_text() == (tmp_path / "bg" / "metrics.jsonl").read_text()
    newest = CheckpointManager(tmp_path / "bg").load()
    assert newest["epoch"] == 6 and newest["config"]["train"]["checkpoint"]["background"] is True
