"""``deepnets prune RUN``: a new run folder with the pruned weights (the count and, for magnitude,
which ones, checked against the original weights), its curve along the pruning path starting at
the run's own validation accuracy, the compact net giving the pruned net's outputs, the error
budget kept, and user mistakes as one line with status 2."""

import json

import pytest
import torch
from safetensors.torch import load_file

from deepnets.cli import main
from deepnets.experiment import load_run

TRAIN = ["--set", "data.name=parity", "--set", "data.params={n_bits=5}", "--set", "data.split=[0.6, 0.2, 0.2]",
         "--set", "data.stratify=false", "--set", "model.hidden=[6]", "--set", "train.epochs=150",
         "--set", "train.batch_size=0", "--set", "run.plots=false", "--no-progress"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("prune")
    assert main(["train", *TRAIN, "--out", str(out), "--set", "run.name=base"]) == 0
    return out / "base"


def _weights(path):
    return {k: v for k, v in load_file(path / "weights.safetensors").items() if k.startswith("model.") and v.dim() == 2}


def test_magnitude_prunes_the_smallest_weights_into_a_new_run_that_evaluates(run, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "mag"
    assert main(["prune", str(run), "--method", "magnitude", "--sparsity", "0.5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    before, after = _weights(run), _weights(out)
    w = torch.cat([v.reshape(-1) for v in before.values()])
    kept = torch.cat([after[k].reshape(-1) for k in before]) != 0
    assert int((~kept).sum()) == round(0.5 * w.numel()) and f"{int((~kept).sum())} of {w.numel()} weights" in printed
    assert w.abs()[kept].min() >= w.abs()[~kept].max()  # the smallest |w| went
    summary = json.loads((out / "summary.json").read_text())
    curve = json.loads((out / "prune_curve.json").read_text())
    original = json.loads((run / "summary.json").read_text())
    assert curve[0]["accuracy"] == pytest.approx(original["metrics"]["val"]["accuracy"])
    assert curve[-1]["sparsity"] == pytest.approx(0.5, abs=0.02) and len(curve) == 11
    assert main(["evaluate", str(out)]) == 0  # a run folder like any other: its weights reload
    assert f"loss {summary['metrics']['test']['loss']:.4f}" in capsys.readouterr().out
    # the compact net: dead hidden units dropped, the same outputs as the pruned net
    _, _, model, scaler = load_run(out)
    compact = load_file(out / "compact.safetensors")
    x = scaler(torch.rand(7, 5).round())
    h = torch.tanh(x @ compact["0.weight"].T + compact["0.bias"])
    logits = h @ compact["2.weight"].T + compact["2.bias"]
    unit = {"softmax": lambda a: torch.softmax(a, 1), "logistic": torch.sigmoid}.get(summary["output"], lambda a: a)
    with torch.no_grad():
        torch.testing.assert_close(unit(logits), model(x))


def test_obd_keeps_the_training_error_budget(run, tmp_path, capsys):
    out = tmp_path / "obd"
    budget = 0.5
    assert main(["prune", str(run), "--method", "obd", "--max-error-increase", str(budget), "--out", str(out)]) == 0
    E = []
    for path in (run, out):
        s = json.loads((path / "summary.json").read_text())
        E.append(s["metrics"]["train"]["loss"] * s["n_train"])  # E summed over the training split
    assert E[1] - E[0] <= budget + 1e-3
    assert json.loads((out / "summary.json").read_text())["pruned"]["removed"] > 0


def test_obs_and_layerwise_write_their_runs(run, tmp_path):
    for method in ("obs", "layerwise"):
        out = tmp_path / method
        assert main(["prune", str(run), "--method", method, "--sparsity", "0.3", "--out", str(out)]) == 0
        pruned = json.loads((out / "summary.json").read_text())["pruned"]
        zeros = sum(int((v == 0).sum()) for v in _weights(out).values())
        assert pruned["removed"] == zeros and zeros >= 0.2 * pruned["n_weights"]  # layer-wise: per row


def test_mistakes_are_one_line_with_status_2(run, tmp_path, capsys):
    assert main(["prune", str(run), "--method", "layerwise", "--max-error-increase", "1"]) == 2
    assert "give --sparsity S" in capsys.readouterr().err
    assert main(["prune", str(run), "--method", "obs", "--sparsity", "1.5"]) == 2
    assert "in [0, 1), got 1.5" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    assert main(["prune", str(run), "--method", "obd", "--sparsity", "0.1", "--out", str(tmp_path / "taken")]) == 2
    assert "exists" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["prune", str(run), "--method", "obs", "--sparsity", "0.2", "--max-error-increase", "1"])
    assert e.value.code == 2


def test_a_regression_run_is_pruned_and_scored_in_the_targets_units(tmp_path, capsys):
    assert main(["train", "--set", "data.name=function", "--set", "data.params={f='sin', n_samples=80}",
                 "--set", "model.hidden=[6]", "--set", "train.epochs=20", "--set", "train.optimizer.name='lbfgs'",
                 "--set", "train.optimizer.lr=1.0", "--set", "train.batch_size=0", "--set", "run.plots=false",
                 "--set", "run.name=sin", "--out", str(tmp_path), "--no-progress"]) == 0
    run, out = tmp_path / "sin", tmp_path / "sin-pruned"
    assert main(["prune", str(run), "--method", "obd", "--sparsity", "0.2", "--out", str(out)]) == 0
    original, pruned = (json.loads((p / "summary.json").read_text()) for p in (run, out))
    curve = json.loads((out / "prune_curve.json").read_text())
    assert curve[0]["rmse"] == pytest.approx(original["metrics"]["val"]["rmse"], rel=1e-5)  # the same units
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    assert f"rmse {pruned['metrics']['test']['rmse']:.4f}" in capsys.readouterr().out
