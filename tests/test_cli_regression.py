"""Regression from your own CSV: targets standardised on the training part, reported in their units
with R² and the mean predictor beside RMSE; the default network beats the mean on scikit-learn's
diabetes data; a series' penalty means the same whatever the units of the CSV."""

import csv
import json

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from deepnets.cli import main


@pytest.fixture
def diabetes_csv(tmp_path):
    x, y = load_diabetes(return_X_y=True, scaled=False)
    path = tmp_path / "diabetes.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f"x{j}" for j in range(x.shape[1])] + ["progression"])
        w.writerows([*map(repr, row), repr(t)] for row, t in zip(x.tolist(), y.tolist()))
    return path, x, y


def test_the_default_network_beats_the_mean_on_diabetes(tmp_path, capsys, diabetes_csv):
    path, _, y = diabetes_csv
    # the default experiment (MLP 100 tanh, Adam 1e-3, batches of 32, 100 epochs): README's R² 0.52
    assert main(["train", "--out", str(tmp_path), "--no-progress", "--set", "data.name=csv",
                 "--set", f'data.params={{path="{path.as_posix()}", target="progression"}}',
                 "--set", "run.plots=false", "--set", "run.name=d"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("task: regression of 'progression' over 442 rows (mean 152.1 sd 77.0")
    test = json.loads((tmp_path / "d" / "summary.json").read_text())["metrics"]["test"]
    assert f"test rmse: {test['rmse']:.4f} (R² {test['r2']:.4f}; predicting the training mean: " in out
    assert test["r2"] > 0.35 and test["rmse"] < 0.8 * test["mean_predictor_rmse"]
    # the whole file scored by `evaluate --data`, and again by numpy from `predict`'s values
    assert main(["evaluate", str(tmp_path / "d"), "--data", str(path)]) == 0
    scored = dict(zip(*[iter(capsys.readouterr().out.split(": ", 1)[1].split())] * 2))
    assert main(["predict", str(tmp_path / "d"), str(path)]) == 0
    pred = np.array([float(v) for v in capsys.readouterr().out.splitlines()[1:]])
    r2 = 1 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2)
    rmse = np.sqrt(np.mean((pred - y) ** 2))
    assert float(scored["r2"]) == pytest.approx(r2, abs=1e-4) and float(scored["rmse"]) == pytest.approx(rmse, rel=1e-4)
    assert r2 > 0.35 and rmse < 0.8 * y.std()   # clearly better than predicting the mean (R² 0)
    assert main(["predict", str(tmp_path / "d"), str(path), "--proba"]) == 2
    assert "--proba gives class probabilities; " in capsys.readouterr().err


def _series_run(tmp_path, capsys, scale: float, name: str) -> dict:
    from deepnets.data.series import henon_series

    x = henon_series(240).numpy() * scale
    path = tmp_path / f"{name}.csv"
    path.write_text("x\n" + "".join(f"{v!r}\n" for v in x.tolist()))
    assert main(["train", "--out", str(tmp_path), "--no-progress", "--set", "data.name=series",
                 "--set", f'data.params={{path="{path.as_posix()}", column="x", lags=2}}', "--set", "data.horizon=2",
                 "--set", "model.hidden=[6]", "--set", "train.epochs=15", "--set", "train.optimizer.lr=0.01",
                 "--set", "train.penalty.name=weight_decay", "--set", "train.penalty.options={gamma=0.01}",
                 "--set", "run.plots=false", "--set", f"run.name={name}"]) == 0
    capsys.readouterr()
    return json.loads((tmp_path / name / "summary.json").read_text())


def test_a_series_penalty_does_not_depend_on_the_csvs_units(tmp_path, capsys):
    a = _series_run(tmp_path, capsys, 1.0, "one")
    b = _series_run(tmp_path, capsys, 1000.0, "thousand")
    assert b["target"]["std"][0] == pytest.approx(1000 * a["target"]["std"][0], rel=1e-6)
    # the same network learns the same standardised problem: the scale-free errors agree
    for seg in ("train", "test"):
        na = a["forecast"]["segments"][seg]["one_step"]["model"]["nmse"]
        nb = b["forecast"]["segments"][seg]["one_step"]["model"]["nmse"]
        assert nb == pytest.approx(na, rel=1e-3)
    assert b["metrics"]["test"]["rmse"] == pytest.approx(1000 * a["metrics"]["test"]["rmse"], rel=1e-3)
    # ARD sees the same problem too: equal relevances, the noise precision in the units of each CSV
    from deepnets.experiment import relevance_run

    ra, rb = (relevance_run(tmp_path / name, rounds=1, inner=5) for name in ("one", "thousand"))
    assert rb["relevance"] == pytest.approx(ra["relevance"], rel=1e-3)
    assert rb["beta"][0] == pytest.approx(ra["beta"][0] / 1000 ** 2, rel=1e-3)
