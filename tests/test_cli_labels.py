"""Your own CSV's class labels through the command line: the task and class counts printed before
training, the classes kept in the run, predictions written as the original labels (with
``--proba``, a probability per class), a one-row file predicted, and a stray label refused."""

import csv
import json

import numpy as np
import pytest
import torch

from deepnets.cli import main

SPECIES = ["setosa", "versicolor", "virginica"]


def _iris_like(path, labels, n=60, seed=0):
    """Three well separated blobs in 2-D labelled by ``labels`` (any kind)."""
    g = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["a", "b", "species"])
        for i in range(n):
            c = i % 3
            x = centres[c] + 0.5 * g.standard_normal(2)
            w.writerow([f"{x[0]:.4f}", f"{x[1]:.4f}", labels[c]])
    return path


def _train(tmp_path, csv_path, *extra):
    return main(["train", "--out", str(tmp_path), "--no-progress", "--set", "data.name=csv",
                 "--set", f'data.params={{path="{csv_path.as_posix()}", target="species"}}',
                 "--set", "model.hidden=[8]", "--set", "train.epochs=30", "--set", "train.optimizer.lr=0.03",
                 "--set", "run.plots=false", *extra])


def test_text_labels_train_and_predict_back_as_text(tmp_path, capsys):
    data = _iris_like(tmp_path / "iris.csv", SPECIES)
    assert _train(tmp_path, data, "--set", "run.name=r") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ("task: classification of 'species', 3 classes (label count): "
                                   "'setosa' 20, 'versicolor' 20, 'virginica' 20")
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["classes"] == SPECIES and summary["n_outputs"] == 3
    rows = tmp_path / "rows.csv"
    rows.write_text("b,a\n0.1,0.0\n0.0,4.1\n4.0,0.2\n")     # columns by name, in another order
    assert main(["predict", str(tmp_path / "r"), str(rows)]) == 0
    assert capsys.readouterr().out.splitlines() == ["prediction", "setosa", "versicolor", "virginica"]
    assert main(["predict", str(tmp_path / "r"), str(rows), "--proba"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prediction,p_setosa,p_versicolor,p_virginica"
    for line in lines[1:]:
        label, *p = line.split(",")
        p = [float(v) for v in p]
        assert sum(p) == pytest.approx(1.0, abs=1e-5) and SPECIES[int(np.argmax(p))] == label


def test_one_based_labels_get_three_classes_not_four(tmp_path, capsys):
    data = _iris_like(tmp_path / "d.csv", [1, 2, 3])
    assert _train(tmp_path, data, "--set", "run.name=r") == 0
    capsys.readouterr()
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["classes"] == [1, 2, 3] and summary["n_outputs"] == 3 and summary["n_classes"] == 3
    one = tmp_path / "one.csv"
    one.write_text("a,b\n4.0,0.1\n")                        # a single row is enough to predict
    assert main(["predict", str(tmp_path / "r"), str(one)]) == 0
    assert capsys.readouterr().out.splitlines() == ["prediction", "2"]


def test_binary_labels_get_both_probabilities_from_one_logistic_unit(tmp_path, capsys):
    data = _iris_like(tmp_path / "d.csv", ["no", "yes", "yes"])
    assert _train(tmp_path, data, "--set", "run.name=r") == 0
    capsys.readouterr()
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n0,0\n4,0\n")
    assert main(["predict", str(tmp_path / "r"), str(rows), "--proba"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prediction,p_no,p_yes" and [line.split(",")[0] for line in lines[1:]] == ["no", "yes"]
    from deepnets.experiment import load_run

    _, _, model, scaler = load_run(tmp_path / "r")
    with torch.no_grad():
        p_yes = model(scaler(torch.tensor([[0.0, 0.0]])))[0, 0].item()   # the logistic unit gives P(yes)
    assert [float(v) for v in lines[1].split(",")[1:]] == pytest.approx([1 - p_yes, p_yes], abs=2e-6)


def test_a_stray_label_stops_training_before_the_run_folder_naming_the_row(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("a,species\n" + "".join(f"{i},{i % 2}\n" for i in range(30)) + "30,-1\n")
    assert _train(tmp_path, data, "--set", "run.name=r") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deepnets: error: ") and "\n" not in err
    assert "line 32, column 'species': label -1 is on this row only" in err
    assert not (tmp_path / "r").exists()
    # set explicitly, the task takes the column as it is: three classes
    assert _train(tmp_path, data, "--set", "run.name=r", "--set",
                  f'data.params={{path="{data.as_posix()}", target="species", task="classification"}}') == 0
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["classes"] == [-1, 0, 1]


def test_an_npz_with_text_labels_trains_and_evaluates_on_the_runs_classes(tmp_path, capsys):
    g = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    c = np.arange(60) % 3
    x = centres[c] + 0.5 * g.standard_normal((60, 2))
    np.savez(tmp_path / "d.npz", x=x, y=np.array(SPECIES)[c])
    assert main(["train", "--out", str(tmp_path), "--no-progress", "--set", "data.name=npz",
                 "--set", f'data.params={{path="{(tmp_path / "d.npz").as_posix()}"}}', "--set", "model.hidden=[8]",
                 "--set", "train.epochs=30", "--set", "train.optimizer.lr=0.03", "--set", "run.plots=false",
                 "--set", "run.name=r"]) == 0
    assert "'setosa' 20, 'versicolor' 20, 'virginica' 20" in capsys.readouterr().out
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["classes"] == SPECIES
    keep = c != 0                              # the file changed: setosa is gone; the classes must not shift
    np.savez(tmp_path / "d.npz", x=x[keep], y=np.array(SPECIES)[c[keep]])
    with pytest.warns(UserWarning, match="the data file changed"):
        assert main(["evaluate", str(tmp_path / "r")]) == 0
    import re
    accuracy = [float(v) for v in re.findall(r"accuracy ([0-9.]+)", capsys.readouterr().out)]
    assert accuracy and min(accuracy) > 0.9, accuracy   # shifted classes would score near 0
