"""A run folder stands alone: the data file's absolute path and SHA-256 are kept, every command
works from another working directory, a changed file is a warning for evaluate and an error for
--resume, a new labelled file is scored, and a path in a TOML is relative to the TOML."""

import hashlib
import json

import numpy as np
import pytest

from deepnets.cli import main


def _blobs(path, n=60, seed=0):
    g = np.random.default_rng(seed)
    lines = ["a,b,label"]
    for i in range(n):
        c = i % 2
        x = (3.0 * c, 0.0) + 0.6 * g.standard_normal(2)
        lines.append(f"{x[0]:.4f},{x[1]:.4f},{['cat', 'dog'][c]}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def trained(tmp_path, monkeypatch, capsys):
    """A run trained from a TOML in ``project/`` that names its CSV relative to itself, started
    from ``tmp_path`` (so the CSV's path is not relative to the working directory)."""
    project = tmp_path / "project"
    project.mkdir()
    data = _blobs(project / "pets.csv")
    (project / "exp.toml").write_text(
        '[data]\nname = "csv"\nparams = { path = "pets.csv", target = "label" }\n'
        '[model]\nhidden = [6]\n[train]\nepochs = 10\n[train.optimizer]\nlr = 0.03\n'
        '[run]\nname = "r"\nplots = false\n')
    monkeypatch.chdir(tmp_path)
    assert main(["train", "project/exp.toml", "--out", str(tmp_path / "runs"), "--no-progress"]) == 0
    capsys.readouterr()
    return tmp_path / "runs" / "r", data


def test_the_run_records_the_absolute_path_and_sha256(trained):
    run, data = trained
    record = json.loads((run / "data.json").read_text())
    assert record["path"] == str(data.resolve())
    assert record["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert f'path = "{data.resolve().as_posix()}"' in (run / "config.toml").read_text()


def test_every_command_works_from_another_folder(trained, tmp_path, monkeypatch, capsys):
    run, data = trained
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["evaluate", str(run)]) == 0
    assert " test: loss" in capsys.readouterr().out
    assert main(["relevance", str(run), "--rounds", "1", "--inner", "3"]) == 0
    assert "plot written to" in capsys.readouterr().out
    one = elsewhere / "one.csv"
    one.write_text("a,b\n3.1,0.2\n")
    assert main(["predict", str(run), str(one)]) == 0
    assert capsys.readouterr().out.splitlines() == ["prediction", "dog"]
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0  # its data found from here; finished
    out = capsys.readouterr().out
    assert "finished: " in out and "nothing to resume" in out


def test_a_new_labelled_file_is_scored(trained, tmp_path, capsys):
    run, _ = trained
    new = _blobs(tmp_path / "new.csv", n=40, seed=7)
    assert main(["evaluate", str(run), "--data", str(new)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{new}: loss ")
    accuracy = float(line.split("accuracy ")[1])
    # independent answer: the predicted labels against the file's own, counted here
    assert main(["predict", str(run), str(new)]) == 0
    predicted = capsys.readouterr().out.splitlines()[1:]
    truth = [row.split(",")[2] for row in new.read_text().splitlines()[1:]]
    assert accuracy == pytest.approx(np.mean([p == t for p, t in zip(predicted, truth)]), abs=1e-4)
    unknown = tmp_path / "bad.csv"
    unknown.write_text("a,b,label\n0,0,cat\n3,0,cow\n")
    assert main(["evaluate", str(run), "--data", str(unknown)]) == 2
    assert "line 3, column 'label': label 'cow' is not one of the run's classes ('cat', 'dog')" in capsys.readouterr().err


def test_a_changed_data_file_warns_evaluate_and_stops_resume(trained, capsys):
    run, data = trained
    data.write_text(data.read_text().replace("cat", "dog", 3).replace("dog\n", "cat\n", 2))
    with pytest.warns(UserWarning, match=r"the data file changed since run .* was trained \(SHA-256 [0-9a-f]{12}"):
        assert main(["evaluate", str(run)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "the data file changed" in err and "resuming would train on other data" in err and err.count("\n") == 1
    # the labels of a changed file are read as the run's classes: an unseen one is named, not a new class
    data.write_text(data.read_text().replace("cat", "Cat", 1))
    with pytest.warns(UserWarning, match="the data file changed"):
        assert main(["evaluate", str(run)]) == 2
    assert "line 2, column 'label': label 'Cat' is not one of the run's classes ('cat', 'dog')" in capsys.readouterr().err
    data.unlink()
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"{data.resolve()}: the data file run {run} was trained on is gone" in err
