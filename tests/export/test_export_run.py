"""``deepnets export RUN --onnx OUT.onnx``: the run's scaler in the graph and its labels in the
metadata, the file's outputs equal to what ``deepnets predict`` prints for the same raw rows."""

import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="ONNX Runtime is not installed (pip install 'deepnets[onnx]')")
pytest.importorskip("onnxscript", reason="onnxscript is not installed (pip install 'deepnets[onnx]')")

from deepnets.cli import main  # noqa: E402
from deepnets.experiment import predict_run  # noqa: E402
from deepnets.export import metadata_of, onnx_session, run_onnx  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert main(["train", "--set", "data.name=digits", "--set", "model.hidden=[5]", "--set", "train.epochs=3",
                 "--set", "run.name=digits", "--set", "run.plots=false", "--out", str(out), "--no-progress"]) == 0
    return out / "digits"


def test_export_writes_a_graph_whose_outputs_are_the_predict_commands(run, tmp_path, capsys):
    path = tmp_path / "digits.onnx"
    assert main(["export", str(run), "--onnx", str(path)]) == 0
    assert "ONNX graph" in capsys.readouterr().out
    meta = metadata_of(str(path))
    summary = json.loads((run / "summary.json").read_text())
    names = json.loads(meta["feature_names"])
    assert names == summary["feature_names"] and json.loads(meta["class_labels"]) == list(range(10))
    scaler = json.loads(meta["scaler"])
    assert any(abs(v - 1.0) > 0.01 for v in scaler["scale"])  # standardised: not the identity
    # raw rows, columns in a shuffled order in the CSV: predict reads them by name
    rows = np.random.default_rng(0).integers(0, 17, size=(9, len(names))).astype(float)
    order = names[::-1]
    csv = tmp_path / "rows.csv"
    csv.write_text(",".join(order) + "\n" + "\n".join(
        ",".join(str(r[names.index(c)]) for c in order) for r in rows) + "\n")
    header, predicted = predict_run(run, csv, proba=True)
    (y,) = run_onnx(onnx_session(str(path)), torch.tensor(rows, dtype=torch.float32))
    assert y.shape == (9, 10) and np.allclose(y.sum(1), 1.0, atol=1e-5)
    assert np.abs(y - np.array([p[1:] for p in predicted])).max() <= 1e-5 + 5e-7  # predict rounds to 6 places
    assert (y.argmax(1) == np.array([p[0] for p in predicted])).all()


def test_export_of_a_missing_run_prints_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "x.onnx"
    assert main(["export", str(tmp_path / "nope"), "--onnx", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a run folder" in err[0]
    assert not out.exists()


def test_a_series_run_is_refused_with_what_to_do_instead(tmp_path, capsys):
    assert main(["train", "--set", "data.name=henon", "--set", "data.params={n = 200, lags = 2}",
                 "--set", "train.epochs=1", "--set", "run.name=h", "--set", "run.plots=false",
                 "--out", str(tmp_path), "--no-progress"]) == 0
    capsys.readouterr()
    out = tmp_path / "h.onnx"
    assert main(["export", str(tmp_path / "h"), "--onnx", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "series run" in err[0] and "to_onnx" in err[0]
    assert not out.exists()


def test_a_regression_graph_answers_in_the_targets_units(tmp_path, capsys):
    # the network learnt standardised targets; the graph, like predict, answers in the CSV's units
    assert main(["train", "--set", "data.name=function", "--set", "data.params={f = \"sin\", n_samples = 60}",
                 "--set", "model.hidden=[4]", "--set", "train.epochs=2", "--set", "run.name=f",
                 "--set", "run.plots=false", "--out", str(tmp_path), "--no-progress"]) == 0
    run = tmp_path / "f"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["target"]["standardised"]
    path = tmp_path / "f.onnx"
    assert main(["export", str(run), "--onnx", str(path)]) == 0
    xs = np.linspace(-3, 3, 7)
    csv = tmp_path / "x.csv"
    csv.write_text(summary["feature_names"][0] + "\n" + "\n".join(str(v) for v in xs) + "\n")
    _, predicted = predict_run(run, csv)
    (y,) = run_onnx(onnx_session(str(path)), torch.tensor(xs[:, None], dtype=torch.float32))
    assert np.abs(y[:, 0] - np.array([p[0] for p in predicted])).max() <= 1e-5
