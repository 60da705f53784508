"""``model.dropout`` in an experiment file: it reaches the MLP, round-trips through the run
folder, and a value outside [0, 1) or on a model kind without it is one line and exit 2."""

import json

import pytest

from deepnets.cli import main
from deepnets.config import experiment_from_dict
from deepnets.experiment.build import build_model
from deepnets.experiment.folder import load_run

PARITY = ["--set", "data.name=parity", "--set", "data.params={n_bits=3}", "--set", "data.split=[0.75, 0.0, 0.25]",
          "--set", "data.stratify=false", "--set", "model.hidden=[6]", "--set", "train.batch_size=0"]


def _train(tmp_path, *args):
    return main(["train", *PARITY, *args, "--out", str(tmp_path), "--no-progress"])


def test_model_dropout_builds_an_mlp_with_that_drop_probability():
    exp = experiment_from_dict({"data": {"name": "xor"}, "model": {"hidden": [4, 3], "dropout": 0.25}})
    net = build_model(exp, 2, 1, "logistic")
    assert net.dropout == 0.25 and net.sizes == [2, 4, 3, 1]
    assert build_model(experiment_from_dict({"data": {"name": "xor"}}), 2, 1, "logistic").dropout == 0.0


def test_a_run_with_dropout_is_reloaded_with_it_and_evaluates_as_recorded(tmp_path, capsys):
    assert _train(tmp_path, "--set", "model.dropout=0.2", "--set", "train.epochs=5", "--set", "run.name=d") == 0
    run = tmp_path / "d"
    assert "dropout = 0.2" in (run / "config.toml").read_text()
    _, _, model, _ = load_run(run)
    assert model.dropout == 0.2 and not model.training
    summary = json.loads((run / "summary.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0  # eval mode: no masks, the recorded numbers again
    assert f"{summary['metrics']['test']['loss']:.4f}" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--set", "model.dropout=1.0"], "dropout is the probability of dropping a hidden unit: expected a number in "
                                     "[0, 1), got 1.0"),
    (["--set", "model.dropout=-0.5"], "expected a number in [0, 1), got -0.5"),
    (["--set", "model.dropout=0.3", "--set", "model.kind=cnn1d"],
     "model.dropout is the MLP's (model.kind = 'mlp'); model.kind = 'cnn1d'"),
])
def test_a_bad_model_dropout_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    assert _train(tmp_path, *args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deepnets: error: ") and message in err and "\n" not in err
    assert not any(tmp_path.iterdir())  # caught before a run folder is made
