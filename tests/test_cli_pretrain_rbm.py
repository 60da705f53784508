"""``[pretrain] kind = "rbm"`` from an experiment file: the run holds the weights pretrain_mlp gives
with RBMs, and the RBM's own mistakes (a non-logistic layer, inputs outside [0, 1], an option it
does not take) are one-line errors that leave no run folder."""

import json

import pytest
import torch

from deepnets.cli import main
from deepnets.config import experiment_from_dict
from deepnets.experiment import build_model
from deepnets.experiment.prepare import prepare, scaled
from deepnets.experiment.run import run_experiment
from deepnets.train import pretrain_mlp

SMALL = {"data": {"name": "digits", "scale": "range", "scale_range": [0.0, 1.0]},
         "model": {"hidden": [12, 6], "activation": "logistic", "output": "softmax", "seed": 3},
         "train": {"epochs": 0},
         "pretrain": {"kind": "rbm", "epochs": 2, "lr": 0.05, "batch_size": 20,
                      "options": {"k": 2, "persistent": False}},
         "run": {"plots": False, "progress": False}}


def test_the_run_holds_the_weights_of_greedy_rbm_pretraining(tmp_path):
    d = json.loads(json.dumps(SMALL))
    d["run"]["out"] = str(tmp_path)
    exp = experiment_from_dict(d)
    result = run_experiment(exp)  # train.epochs = 0: the saved net is the pretrained one
    data, parts, scaler, _ = prepare(exp)
    x = scaled(scaler, parts.train)[0]
    want = build_model(exp, 64, 10, "softmax")
    pretrain_mlp(want, x, "rbm", epochs=2, lr=0.05, batch_size=20, k=2, persistent=False, seed=3)
    for got, ref in zip(result.model.layers, want.layers):
        torch.testing.assert_close(got.weight, ref.weight)
        torch.testing.assert_close(got.bias, ref.bias)
    record = json.loads(open(f"{result.path}/pretrain.json").read())
    assert (record["kind"], record["layers"], record["sizes"]) == ("rbm", 2, [64, 12, 6])


def _train(tmp_path, *sets):
    args = ["train", "examples/digits_pretrain_rbm.toml", "--out", str(tmp_path), "--no-progress",
            "--set", "run.name=rbm", "--set", "train.epochs=1", "--set", "pretrain.epochs=1"]
    for s in sets:
        args += ["--set", s]
    return main(args)


def test_the_example_runs_from_the_command_line(tmp_path):
    assert _train(tmp_path, "model.hidden=[16]") == 0
    record = json.loads((tmp_path / "rbm" / "pretrain.json").read_text())
    assert (record["kind"], record["sizes"], record["source"]) == ("rbm", [64, 16], "train")


@pytest.mark.parametrize("setting, message", [
    ("model.activation=tanh", "pretraining kind 'rbm' trains logistic units"),
    ("data.scale=standard", "an RBM's visible units are binary or probabilities in [0, 1]"),
    ("pretrain.noise=mask", "pretraining kind 'rbm': got an unexpected keyword argument 'noise'"),
    ("pretrain.options={k=0}", "k (Gibbs steps) must be a positive integer, got 0"),
])
def test_rbm_mistakes_are_one_line_errors_and_leave_no_run(tmp_path, capsys, setting, message):
    assert _train(tmp_path, setting) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "rbm").exists()
