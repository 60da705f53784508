"""Transfer from an experiment: ``data.keep_classes``, ``model.init_from`` / ``init_parts`` and ``train.freeze``."""

import json
from pathlib import Path

import pytest
import torch

from deepnets import MLP
from deepnets.cli import main
from deepnets.data import load_dataset
from deepnets.experiment.folder import load_run

BASE = ["--no-progress", "--set", "run.plots=false", "--set", "data.name=digits", "--set", "model.hidden=[16]",
        "--set", "train.early_stopping=false", "--set", "train.batch_size=64", "--set", "model.output=softmax"]


EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "digits.toml")


def _train(tmp_path, name, *more):
    return main(["train", EXAMPLE, "--out", str(tmp_path), "--set", f"run.name={name}", *BASE, *more])


def _weights(run):
    return {k: v.clone() for k, v in load_run(run)[2].state_dict().items()}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    out = tmp_path_factory.mktemp("source")
    assert _train(out, "src", "--set", "data.keep_classes=[0, 1, 2, 3, 4]", "--set", "train.epochs=3") == 0
    return out / "src"


def test_keep_classes_keeps_those_classes_renumbered_and_predict_names_them(tmp_path, source, capsys):
    summary = json.loads((source / "summary.json").read_text())
    y = load_dataset("digits").y
    assert summary["classes"] == [0, 1, 2, 3, 4] and summary["n_classes"] == 5
    assert summary["n_train"] + summary["n_val"] + summary["n_test"] == int((y < 5).sum())
    assert _train(tmp_path, "pair", "--set", "data.keep_classes=[7, 3]", "--set", "train.epochs=2",
                  "--set", "model.output=auto") == 0   # two classes: one logistic output
    pair = json.loads((tmp_path / "pair" / "summary.json").read_text())
    assert pair["classes"] == [7, 3] and pair["n_train"] + pair["n_val"] + pair["n_test"] == int(((y == 7) | (y == 3)).sum())
    x = load_dataset("digits").x
    rows = torch.cat([x[y == 7][:3], x[y == 3][:3]])
    csv = tmp_path / "rows.csv"
    csv.write_text(",".join(pair["feature_names"]) + "\n" + "\n".join(",".join(f"{v:g}" for v in r) for r in rows.tolist()))
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "pair"), str(csv)]) == 0
    assert set(capsys.readouterr().out.split()[1:]) <= {"7", "3"}       # the labels, not the indices 0/1


def test_init_parts_are_copied_before_training_and_the_rest_is_fresh(tmp_path, source):
    assert _train(tmp_path, "copy", "--set", "data.keep_classes=[5, 6, 7, 8, 9]", "--set", "train.epochs=0",
                  "--set", f"model.init_from={source}", "--set", "model.init_parts=[\"layers.0\"]") == 0
    src, tgt = _weights(source), _weights(tmp_path / "copy")
    fresh = MLP([64, 16, 5], activation="tanh", output="softmax", seed=0).state_dict()   # model.seed = 0
    for k in tgt:
        assert torch.equal(tgt[k], src[k] if k.startswith("layers.0.") else fresh[k]), k
    summary = json.loads((tmp_path / "copy" / "summary.json").read_text())
    assert summary["copied"] == ["layers.0.weight", "layers.0.bias"] and summary["init_from"] == str(source)


def test_a_frozen_copied_part_keeps_the_source_weights_while_the_rest_trains(tmp_path, source):
    assert _train(tmp_path, "frozen", "--set", "data.keep_classes=[5, 6, 7, 8, 9]", "--set", "train.epochs=3",
                  "--set", f"model.init_from={source}", "--set", "model.init_parts=[\"layers.0\"]",
                  "--set", "train.freeze=[\"layers.0\"]", "--set", "train.optimizer.layer_lr=[0.1, 0.003]") == 0
    src, tgt = _weights(source), _weights(tmp_path / "frozen")
    fresh = MLP([64, 16, 5], activation="tanh", output="softmax", seed=0).state_dict()
    assert torch.equal(tgt["layers.0.weight"], src["layers.0.weight"])
    assert not torch.equal(tgt["layers.1.weight"], fresh["layers.1.weight"])   # the top layer trained
    assert json.loads((tmp_path / "frozen" / "summary.json").read_text())["frozen"] == ["layers.0.bias",
                                                                                      "layers.0.weight"]


@pytest.mark.parametrize("setting, message", [
    (["--set", "model.init_parts=[\"layers.0\"]"], "set model.init_from to the run folder"),
    (["--set", "model.init_from={source}"], "list the parts to copy in model.init_parts"),
    (["--set", "model.init_from={tmp}/none", "--set", "model.init_parts=[\"layers.0\"]"], "is not a run folder"),
    (["--set", "model.init_from={source}", "--set", "model.init_parts=[\"layers.5\"]"], "this model has no part 'layers.5'"),
    (["--set", "model.init_from={source}", "--set", "model.init_parts=[\"layers.0\"]", "--set", "model.hidden=[8]"],
     "layers.0.weight is (8, 64) here and (16, 64) in the run"),
    (["--set", "train.freeze=[\"trunk\"]"], "train.freeze: no parameter of the MLP is named 'trunk'"),
    (["--set", "data.keep_classes=[3, 11]"], "data.keep_classes: 11 is not a class of digits"),
    (["--set", "data.keep_classes=[3]"], "at least 2 different classes"),
    (["--set", "model.init_from={source}", "--set", "model.init_parts=[\"layers.0\"]", "--set", "pretrain.kind=\"autoencoder\""],
     "model.init_from and [pretrain] both set"),
])
def test_mistakes_are_one_line_errors_and_leave_no_run(tmp_path, source, capsys, setting, message):
    setting = [s.format(source=source, tmp=tmp_path) for s in setting]
    assert _train(tmp_path, "bad", "--set", "data.keep_classes=[5, 6, 7, 8, 9]", *setting) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "bad").exists()


def test_a_relative_init_from_is_kept_absolute_and_a_resume_does_not_reread_the_source(tmp_path, source, monkeypatch):
    from deepnets.experiment.transfer_run import initialise_from
    monkeypatch.chdir(source.parent)
    assert _train(tmp_path, "rel", "--set", "data.keep_classes=[5, 6, 7, 8, 9]", "--set", "train.epochs=2",
                  "--set", f"model.init_from={source.name}", "--set", "model.init_parts=[\"layers.0\"]") == 0
    exp, _, model = load_run(tmp_path / "rel")[:3]
    assert exp.model.init_from == str(source)      # the saved config names the folder absolutely
    monkeypatch.chdir(tmp_path)
    exp.model.init_from = "gone/elsewhere"           # what a resume must not read: the source (here missing)
    before = _weights(tmp_path / "rel")
    record = initialise_from(exp, model, copy=False)
    assert record["copied"] == ["layers.0.weight", "layers.0.bias"]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(Exception, match="is not a run folder"):
        initialise_from(exp, model)
