"""``[pretrain]`` from an experiment: the hidden layers pretrained on unlabelled examples, then fit,
the run folder recording it; mistakes are one-line errors that leave no run folder."""

import json

import numpy as np
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
         "pretrain": {"epochs": 2, "lr": 0.01, "batch_size": 64},
         "run": {"plots": False, "progress": False}}


def _exp(tmp_path, **pretrain):
    d = json.loads(json.dumps(SMALL))
    d["pretrain"].update(pretrain)
    d["run"]["out"] = str(tmp_path)
    return experiment_from_dict(d)


def test_the_run_holds_the_weights_pretrain_mlp_gives_on_the_training_features(tmp_path):
    exp = _exp(tmp_path, noise="mask", noise_level=0.2, options={"tied": False})
    result = run_experiment(exp)  # train.epochs = 0: the saved net is the pretrained one
    data, parts, scaler, _ = prepare(exp)
    x = scaled(scaler, parts.train)[0]
    want = build_model(exp, 64, 10, "softmax")
    pretrain_mlp(want, x, epochs=2, lr=0.01, batch_size=64, noise="mask", noise_level=0.2, tied=False, seed=3)
    for got, ref in zip(result.model.layers, want.layers):
        torch.testing.assert_close(got.weight, ref.weight)
        torch.testing.assert_close(got.bias, ref.bias)
    untouched = build_model(exp, 64, 10, "softmax")  # the output layer keeps its initial weights
    torch.testing.assert_close(result.model.layers[-1].weight, untouched.layers[-1].weight)
    record = json.loads(open(f"{result.path}/pretrain.json").read())
    assert result.summary["pretrain"] == record
    assert (record["kind"], record["layers"], record["sizes"], record["n_examples"], record["source"]) == \
        ("autoencoder", 2, [64, 12, 6], len(x), "train")
    assert "[pretrain]" in open(f"{result.path}/config.toml").read()


def test_layers_and_a_csv_of_unlabelled_rows(tmp_path):
    rows = np.random.default_rng(0).integers(0, 17, size=(40, 65)).astype(float)  # 64 pixels and a stray column
    csv = tmp_path / "unlabelled.csv"
    header = ["extra"] + [f"pixel_{i}" for i in range(64)]
    np.savetxt(csv, rows, delimiter=",", header=",".join(header), comments="", fmt="%g")
    result = run_experiment(_exp(tmp_path / "runs", source="csv", path=str(csv), layers=1))
    pre = result.summary["pretrain"]
    assert (pre["layers"], pre["sizes"], pre["n_examples"], pre["source"], pre["path"]) == \
        (1, [64, 12], 40, "csv", str(csv))
    assert len(pre["sha256"]) == 64
    untouched = build_model(_exp(tmp_path), 64, 10, "softmax")
    torch.testing.assert_close(result.model.layers[1].weight, untouched.layers[1].weight)
    assert not torch.equal(result.model.layers[0].weight, untouched.layers[0].weight)


def test_without_the_table_nothing_is_pretrained(tmp_path):
    d = json.loads(json.dumps(SMALL))
    del d["pretrain"]
    d["run"]["out"] = str(tmp_path)
    result = run_experiment(experiment_from_dict(d))
    assert "pretrain" not in result.summary and not (tmp_path / result.path / "pretrain.json").exists()


def _train(tmp_path, *sets):
    args = ["train", "examples/digits_pretrain.toml", "--out", str(tmp_path), "--no-progress",
            "--set", "run.name=bad", "--set", "train.epochs=1", "--set", "pretrain.epochs=1"]
    for s in sets:
        args += ["--set", s]
    return main(args)


@pytest.mark.parametrize("setting, message", [
    ("pretrain.kind=autoencoders", "did you mean 'autoencoder'"),
    ("pretrain.layers=3", "pretrain.layers must be from 1 to the 2 hidden layer(s) of model.hidden (0: all), got 3"),
    ("pretrain.epochs=0", "pretrain.epochs must be a positive integer, got 0"),
    ("pretrain.lr=-0.5", "pretrain.lr must be >= 0.0, got -0.5"),
    ("pretrain.noise=salt", "pretrain.noise must be one of ['none', 'mask', 'gaussian'], got 'salt'"),
    ("pretrain.source=test", "pretrain.source must be one of ['train', 'csv'], got 'test'"),
    ("pretrain.source=csv", "pretrain.path names the CSV of pretrain.source = 'csv' (and only then)"),
    ("pretrain.path=x.csv", "pretrain.path names the CSV of pretrain.source = 'csv' (and only then)"),
    ("pretrain.options={tyed=false}", "pretraining kind 'autoencoder': got an unexpected keyword argument 'tyed'"),
    ("pretrain.options={epochs=3}", "pretrain.options.epochs is a key of [pretrain] itself"),
    ("pretrain.layer=1", "unknown key 'pretrain.layer'; did you mean 'pretrain.layers'?"),
    ("model.kind=cnn1d model.output=auto", "[pretrain] pretrains the hidden layers of an MLP: model.kind = 'mlp' expected"),
])
def test_mistakes_are_one_line_errors_and_leave_no_run(tmp_path, capsys, setting, message):
    assert _train(tmp_path, *setting.split(" ")) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "bad").exists()


def test_a_missing_csv_is_a_one_line_error(tmp_path, capsys):
    assert _train(tmp_path, "pretrain.source=csv", f"pretrain.path={tmp_path / 'none.csv'}") == 2
    err = capsys.readouterr().err.strip()
    assert "none.csv" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "bad").exists()


def test_tune_and_select_refuse_to_drop_the_pretraining(tmp_path, capsys):
    path = tmp_path / "e.toml"
    path.write_text('[pretrain]\n[tune.space]\n"train.optimizer.lr" = {low = 0.01, high = 0.1}\n')
    assert main(["tune", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "remove [pretrain]" in capsys.readouterr().err
    assert main(["select", str(path), "--hidden", "4,8", "--out", str(tmp_path / "out")]) == 2
    assert "remove [pretrain]" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_resumed_run_keeps_its_record_and_does_not_pretrain_again(tmp_path, monkeypatch):
    import shutil

    from safetensors.torch import load_file

    from deepnets.experiment import pretrain_run
    from deepnets.experiment.run import resume_run

    exp = _exp(tmp_path)
    exp.train.epochs, exp.train.checkpoint.every_epochs = 4, 1
    full = run_experiment(exp)
    run = tmp_path / "cut"
    shutil.copytree(full.path, run)
    newest = sorted((run / "checkpoints").iterdir())[-1]  # as if cut after epoch 3
    newest.unlink()  # (one file a checkpoint)
    (run / "summary.json").unlink()
    (run / "weights.safetensors").unlink()
    monkeypatch.setattr(pretrain_run, "pretrain_mlp", None)  # pretraining again would fail with a TypeError
    resumed = resume_run(run)
    assert resumed.summary["pretrain"] == full.summary["pretrain"]
    a, b = load_file(f"{full.path}/weights.safetensors"), load_file(run / "weights.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_set_switches_the_top_level_table_off_and_on(tmp_path):
    assert main(["train", "examples/digits_pretrain.toml", "--out", str(tmp_path), "--no-progress",
                 "--set", "run.name=off", "--set", "run.plots=false", "--set", "train.epochs=1",
                 "--set", "pretrain=false"]) == 0
    assert "pretrain" not in json.loads((tmp_path / "off" / "summary.json").read_text())
    assert "[pretrain]" not in (tmp_path / "off" / "config.toml").read_text()
    exp = experiment_from_dict({"pretrain": False})
    assert exp.pretrain is None and experiment_from_dict({"pretrain": True}).pretrain.kind == "autoencoder"


def test_pretrain_lr_zero_takes_each_kinds_own_rate(tmp_path):
    import inspect

    from deepnets.experiment.pretrain_run import pretrain_options
    from deepnets.train.rbm import rbm_layer
    model = build_model(_exp(tmp_path), 64, 10, "softmax")
    assert pretrain_options(_exp(tmp_path, lr=0.0), model)["lr"] == 0.005              # Adam's η
    rbm = pretrain_options(_exp(tmp_path, lr=0.0, kind="rbm"), model)["lr"]
    assert rbm == inspect.signature(rbm_layer).parameters["lr"].default == 0.1         # the PCD step
    assert pretrain_options(_exp(tmp_path, lr=0.03, kind="rbm"), model)["lr"] == 0.03  # as written
    d = json.loads(json.dumps(SMALL))
    del d["pretrain"]["lr"]
    assert experiment_from_dict(d).pretrain.lr == 0.0                                   # the default: the kind's own
    with pytest.raises(Exception, match="pretrain.lr"):
        pretrain_options(_exp(tmp_path, lr=-1.0), model)
