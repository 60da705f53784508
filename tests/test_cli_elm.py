"""``model.kind = "elm"``: the extreme learning machine solved by ``deepnets train``, read back by
``evaluate`` and ``predict``; the solve checked against scikit-learn's Ridge on the same features."""

import json

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from deepnets.cli import main
from deepnets.experiment.inspect import evaluate_run
from deepnets.experiment.folder import load_run
from deepnets.experiment.prepare import prepare, scaled


def _train(tmp_path, name, *more, example="examples/digits_elm.toml"):
    return main(["train", example, "--out", str(tmp_path), "--no-progress", "--set", "run.plots=false",
                 "--set", f"run.name={name}", *more])


def test_the_cli_solves_ridge_with_the_gcv_lambda_and_evaluate_reads_the_run(tmp_path, capsys):
    assert _train(tmp_path, "elm") == 0                      # the example as it stands: K = 1000
    run = tmp_path / "elm"
    summary = json.loads((run / "summary.json").read_text())
    lam = summary["elm_lambda"]
    assert lam > 0 and summary["output"] == "linear" and summary["epochs_run"] == 1
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(log) == 1 and {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(log[0])
    # independent answer: scikit-learn's Ridge at the run's λ on the saved hidden layer's features of the run's split
    exp, _, model, scaler = load_run(run)
    _, parts, _, _ = prepare(exp)
    x, y = scaled(scaler, parts.train)
    h = model.hidden(x).double().numpy()
    # ½ Σ‖z − ẑ‖² + (λ/2) vᵀv is Ridge's ‖Z − HV‖² + α‖V‖² with α = λ
    ridge = Ridge(alpha=lam, fit_intercept=True, solver="svd").fit(h, np.eye(10)[y.numpy()])
    np.testing.assert_allclose(model.output.weight.detach().numpy(), ridge.coef_, atol=2e-5)
    np.testing.assert_allclose(model.output.bias.detach().numpy(), ridge.intercept_, atol=2e-5)
    again = evaluate_run(run)
    assert again["test"]["accuracy"] == summary["metrics"]["test"]["accuracy"] >= 0.97   # the tour's target
    capsys.readouterr()
    rows = np.asarray(parts.test[0][:6])
    csv = tmp_path / "rows.csv"
    csv.write_text(",".join(summary["feature_names"]) + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    assert main(["predict", str(run), str(csv)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed[0] == "prediction"
    expected = model(scaler(parts.test[0][:6])).argmax(1).tolist()
    assert [int(p) for p in printed[1:]] == expected


def test_lasso_with_a_given_lambda_and_two_classes(tmp_path):
    assert _train(tmp_path, "lasso", "--set", "model.hidden=[100]", "--set", "model.options.penalty=lasso",
                  "--set", "model.options.lam=2.0") == 0
    summary = json.loads((tmp_path / "lasso" / "summary.json").read_text())
    assert summary["elm_lambda"] == [2.0] * 10
    _, _, model, _ = load_run(tmp_path / "lasso")
    assert (model.output.weight == 0).double().mean() > 0.3     # the L1 penalty zeroes part of v
    # two classes: one output fitted to the 0/1 labels, thresholded at 0.5 (XOR needs the hidden layer)
    assert _train(tmp_path, "xor", "--set", "model.hidden=[20]", "--set", "model.options.lam=1e-8",
                  "--set", "train.restarts=false", "--set", "model.output=auto", "--set", "train.loss.name=auto",
                  "--set", "model.kind=elm", example="examples/xor.toml") == 0
    xor = json.loads((tmp_path / "xor" / "summary.json").read_text())
    assert xor["n_outputs"] == 1 and xor["metrics"]["train"]["accuracy"] == 1.0


@pytest.mark.parametrize("setting, message", [
    (["--set", "train.early_stopping.patience=5"], "solved in closed form, not trained: remove train.early_stopping"),
    (["--set", "train.penalty.name=weight_decay"], "remove train.penalty"),
    (["--set", "model.output=softmax"], "model.output must be 'auto' or 'linear', got 'softmax'"),
    (["--set", "model.hidden=[10, 10]"], "model.hidden must be [K]"),
    (["--set", "model.options.penalty=l2"], "model.options.penalty must be one of"),
    (["--set", "model.options.lam=-1"], "model.options.lam must be a positive number"),
    (["--set", "model.options.units=5"], "expected keys among"),
])
def test_mistakes_are_one_line_errors_and_leave_no_run(tmp_path, capsys, setting, message):
    assert _train(tmp_path, "bad", *setting) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bad").exists()
