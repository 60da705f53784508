"""Training with hints and multi-start runs from an experiment (TOML / --set), end to end."""

import json

import pytest
import torch
from safetensors.torch import load_file

from deepnets.cli import main


def _train(tmp_path, *args):
    return main(["train", *args, "--out", str(tmp_path), "--no-progress"])


@pytest.fixture
def fault_csv(tmp_path):
    """Two-class data whose label is the sign of a hidden 'severity' s = x1 x2 - 0.1; s is a column."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(160, 3, generator=g) * 2 - 1
    severity = x[:, 0] * x[:, 1] - 0.1
    label = (severity > 0).long()
    path = tmp_path / "faults.csv"
    rows = [f"{a:.5f},{b:.5f},{c:.5f},{s:.5f},{y}" for (a, b, c), s, y in zip(x.tolist(), severity.tolist(), label.tolist())]
    path.write_text("x1,x2,x3,severity,fault\n" + "\n".join(rows) + "\n")
    return path


def _csv_args(path, *more):
    return ["--set", "data.name=csv", "--set", f'data.params={{path="{path}", target="fault"}}',
            "--set", "model.hidden=[8]", "--set", "train.epochs=15", "--set", "train.batch_size=16", *more]


def test_hint_column_is_learnt_in_training_only(tmp_path, fault_csv, capsys):
    assert _train(tmp_path, *_csv_args(fault_csv, "--set", 'train.hints.columns=["severity"]', "--set", "run.name=h")) == 0
    run = tmp_path / "h"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["feature_names"] == ["x1", "x2", "x3"] and summary["sizes"] == [3, 8, 1]
    weights = load_file(str(run / "weights.safetensors"))
    assert not any("hint" in k for k in weights)           # the hint layer is not saved
    assert weights["model.layers.0.weight"].shape == (8, 3)
    new = tmp_path / "new.csv"
    new.write_text("x3,x1,x2\n0.1,0.5,0.5\n0,-0.5,0.5\n")  # no severity column at prediction time
    assert main(["predict", str(run), str(new)]) == 0
    assert main(["evaluate", str(run)]) == 0


def test_zero_hint_weight_trains_the_main_network_as_without_hints(tmp_path, fault_csv):
    # with gamma = 0 the hint outputs send no error back into the shared layer: the main weights
    # follow the plain run's (one computed by the co-state recursion, the other by autograd)
    assert _train(tmp_path, *_csv_args(fault_csv, "--set", 'train.hints.columns=["severity"]', "--set", "train.hints.weight=0",
                                       "--set", "run.name=g0")) == 0
    plain = 'data.params={path="%s", target="fault", features=["x1","x2","x3"]}' % fault_csv
    assert _train(tmp_path, *_csv_args(fault_csv, "--set", plain, "--set", "run.name=plain")) == 0
    a, b = load_file(str(tmp_path / "g0" / "weights.safetensors")), load_file(str(tmp_path / "plain" / "weights.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    # and a real hint weight changes the trained network
    assert _train(tmp_path, *_csv_args(fault_csv, "--set", 'train.hints.columns=["severity"]', "--set", "run.name=g1")) == 0
    c = load_file(str(tmp_path / "g1" / "weights.safetensors"))
    assert not torch.allclose(c["model.layers.0.weight"], b["model.layers.0.weight"])


def test_hint_errors(tmp_path, fault_csv, capsys):
    assert _train(tmp_path, *_csv_args(fault_csv, "--set", 'train.hints.columns=["severty"]')) == 2
    assert "did you mean 'severity'?" in capsys.readouterr().err
    assert _train(tmp_path, *_csv_args(fault_csv, "--set", 'train.hints.columns=["severity"]', "--set", "model.hidden=[]")) == 2
    assert "needs model.kind = 'mlp' with a hidden layer" in capsys.readouterr().err


def test_multistart_keeps_the_least_validation_loss_and_resumes(tmp_path, fault_csv, capsys):
    args = _csv_args(fault_csv, "--set", "train.starts=3")
    assert _train(tmp_path, *args, "--set", "run.name=ms") == 0
    run = tmp_path / "ms"
    rows = json.loads((run / "starts.json").read_text())
    val = [json.loads((run / f"start-{s}" / "summary.json").read_text())["metrics"]["val"]["loss"] for s in range(3)]
    assert [r["val_loss"] for r in rows] == val and [r["seed"] for r in rows] == [0, 1, 2]
    best = min(range(3), key=lambda s: val[s])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best_start"] == best
    assert (run / "weights.safetensors").read_bytes() == (run / f"start-{best}" / "weights.safetensors").read_bytes()
    # start s is the plain run with model.seed = s
    assert _train(tmp_path, *_csv_args(fault_csv, "--set", "model.seed=2", "--set", "run.name=seed2")) == 0
    assert (tmp_path / "seed2" / "weights.safetensors").read_bytes() == (run / "start-2" / "weights.safetensors").read_bytes()
    assert main(["evaluate", str(run)]) == 0
    assert f"{summary['metrics']['test']['loss']:.4f}" in capsys.readouterr().out
    # an interrupted multi-start run: start 2 never finished; --resume redoes only that start
    import shutil

    shutil.rmtree(run / "start-2")
    (run / "summary.json").unlink()
    kept = (run / "start-0" / "summary.json").stat().st_mtime_ns
    from deepnets.config import dumps_toml, experiment_from_dict, experiment_to_dict, load_toml

    exp = experiment_from_dict(load_toml(str(run / "start-0" / "config.toml")))
    d = experiment_to_dict(exp)
    d["model"]["seed"], d["train"]["starts"], d["run"]["out"], d["run"]["name"] = 0, 3, str(tmp_path), "ms"
    (run / "config.toml").write_text(dumps_toml(d))  # the parent's config while its starts run
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert (run / "start-0" / "summary.json").stat().st_mtime_ns == kept
    assert json.loads((run / "starts.json").read_text()) == rows
    assert (run / "start-2" / "weights.safetensors").read_bytes() == (tmp_path / "seed2" / "weights.safetensors").read_bytes()


def test_multistart_needs_a_validation_part(tmp_path, fault_csv, capsys):
    assert _train(tmp_path, *_csv_args(fault_csv, "--set", "train.starts=2", "--set", "data.split=[0.8, 0.2]")) == 2
    assert "needs a validation part" in capsys.readouterr().err
